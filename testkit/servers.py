"""Real HTTP servers for store tests: the store server as a subprocess, and a replica that lies."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from node.chain.devnet import free_port
from node.children import stop_child
from node.store.cid import cid_of
from node.store.errors import ContentNotFound
from node.store.local import LocalStore
from testkit.polling import wait_until


def wait_healthy(url: str, deadline_s: float = 20.0, process: subprocess.Popen[bytes] | None = None) -> None:
    def healthy() -> bool:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"store server exited with {process.returncode}")
        try:
            return httpx.get(f"{url}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(healthy, timeout_s=deadline_s, what=f"{url} to be healthy", interval_s=0.05)


@contextmanager
def store_server(
    directory: Path, *, max_bytes: int | None = None, token: str | None = None, port: int | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = port or free_port()
    cmd = [sys.executable, "-m", "client.cli", "store", "serve", "--dir", str(directory), "--port", str(port)]
    env = None
    if max_bytes is not None:
        cmd += ["--max-bytes", str(max_bytes)]
    if token is not None:
        import os

        env = {**os.environ, "STORE_TOKEN": token}
        cmd += ["--token-env", "STORE_TOKEN"]
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process=process)
        yield url, process
    finally:
        stop_child(process)


@contextmanager
def lying_replica(objects: dict[str, bytes], mode: str) -> Iterator[str]:
    """Serves GET /ipfs/{cid} with the object's bytes altered: ``flip`` one bit, ``truncate`` the tail
    (announcing the true length and closing early), ``short`` (announcing the short length), or ``error``; with
    ``misname``, takes every write (``POST /ipfs/``) and answers it with the CID of other bytes."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if mode != "misname":
                self.send_response(405)
                self.end_headers()
                return
            answer = json.dumps({"cid": cid_of(b"not what was sent"), "size": 17, "created": True}).encode()
            self.send_response(201)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def do_GET(self) -> None:
            cid = self.path.split("?", 1)[0].rsplit("/", 1)[-1]
            data = objects.get(cid)
            if data is None:
                self.send_response(404)
                self.end_headers()
                return
            if mode == "error":
                self.send_response(500)
                self.end_headers()
                return
            body = data
            length = len(data)
            if mode == "flip":
                body = bytes([data[0] ^ 0x01]) + data[1:]
            elif mode == "truncate":
                body = data[: len(data) // 2]
            elif mode == "short":
                body = data[: len(data) // 2]
                length = len(body)
            self.send_response(200)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            self.wfile.write(body)
            if mode == "truncate":
                self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    with serve_in_thread(Handler) as url:
        yield url


@contextmanager
def serve_in_thread(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """An HTTP server on a free loopback port, served by a background thread; yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def fake_kubo(store: LocalStore) -> Iterator[tuple[str, list[str]]]:
    """A stand-in for a Kubo node's RPC over a local store: ``POST /api/v0/block/get?arg=CID``, ``dag/import``
    (multipart/form-data with the CAR in a ``file`` part, chunked or not) and ``pin/add?arg=CID``. Yields its URL and
    the CIDs pinned."""
    pins: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                out = bytearray()
                while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                    out += self.rfile.read(size)
                    self.rfile.readline()
                self.rfile.readline()
                return bytes(out)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            arg = parse_qs(url.query).get("arg", [""])[0]
            body = self._body()
            if url.path == "/api/v0/block/get":
                try:
                    self._answer(200, store.block(arg))
                except ContentNotFound:
                    self._answer(500, b'{"Message":"block was not found locally (offline): ipld: could not find"}')
            elif url.path == "/api/v0/dag/import":
                boundary = self.headers["Content-Type"].split("boundary=")[1].encode()
                part = body.split(b"--" + boundary)[1]
                car_bytes = part.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n", 1)[0]
                root = store.import_car(io.BytesIO(car_bytes))
                self._answer(200, json.dumps({"Root": {"Cid": {"/": root}, "PinErrorMsg": ""}}).encode())
            elif url.path == "/api/v0/pin/add":
                pins.append(arg)
                self._answer(200, json.dumps({"Pins": [arg]}).encode())
            else:
                self._answer(404, b"404 page not found")

        def log_message(self, *args: object) -> None:
            pass

    with serve_in_thread(Handler) as url:
        yield url, pins
