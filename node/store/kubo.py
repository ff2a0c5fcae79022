"""A Kubo node as a replica, through its RPC API (``kubo+http://HOST:5001`` in a store list).

Reads ``POST /api/v0/block/get?arg=CID`` (the client checks every block, as from any replica); writes send the
object's blocks as a CAR to ``POST /api/v0/dag/import`` and pin the root with ``POST /api/v0/pin/add``. Kubo's RPC
is an administrative API: point a node at one only over a trusted link (it has no per-request token here).
"""

from __future__ import annotations

import http.client
import json
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

from node.errors import StoreError
from node.store import car
from node.store.errors import ContentNotFound, DigestMismatch, exchange, raise_for_status
from node.store.multiformats import Cid, parse
from node.store.unixfs import CHUNK_SIZE, Builder, encode_stream


class KuboReplica:
    def __init__(self, base_url: str, *, timeout_s: float = 60.0) -> None:
        self.name = "kubo+" + base_url.rstrip("/")
        parsed = urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"not an http(s) URL: {base_url}")
        self._https = parsed.scheme == "https"
        self._host = parsed.hostname
        self._port = parsed.port
        self._timeout_s = timeout_s

    def _call(self, path: str, body: Iterator[bytes] | None = None, headers: dict[str, str] | None = None) -> bytes:
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=self._timeout_s)
        status, data = exchange(
            conn, self.name, "POST", f"/api/v0/{path}", body=body, headers=headers, encode_chunked=body is not None
        )
        if status == 500 and b"not found" in data.lower():
            raise ContentNotFound(path, self.name)
        raise_for_status(status, data, path, self.name)
        return data

    def block(self, cid: Cid) -> bytes:
        return self._call(f"block/get?arg={quote(str(cid))}")

    def put_file(self, path: Path, cid: str | None) -> str:
        with tempfile.TemporaryDirectory() as tmp:
            archive = Path(tmp) / "object.car"
            root = _file_to_car(path, archive)
            self.put_car(archive, str(root))
        if cid is not None and parse(cid).digest != root.digest:
            raise DigestMismatch(cid, str(root))
        return str(root)

    def put_car(self, path: Path, root: str) -> None:
        boundary = uuid.uuid4().hex

        def body() -> Iterator[bytes]:
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="object.car"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            with path.open("rb") as f:
                while chunk := f.read(CHUNK_SIZE):
                    yield chunk
            yield f"\r\n--{boundary}--\r\n".encode()

        answer = self._call(
            "dag/import?pin-roots=false", body(), {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        )
        for line in answer.splitlines():
            record = json.loads(line) if line.strip() else {}
            error = record.get("Root", {}).get("PinErrorMsg") if isinstance(record, dict) else None
            if error:
                raise StoreError(f"{self.name}: dag/import: {error}")
        self._call(f"pin/add?arg={quote(root)}")


def _file_to_car(path: Path, target: Path) -> Cid:
    """A CAR of the file's UnixFS blocks (the root first in the header; Kubo imports blocks in any order)."""

    def chunks() -> Iterator[bytes]:
        with path.open("rb") as f:
            while chunk := f.read(CHUNK_SIZE):
                yield chunk

    root = encode_stream(chunks()).root
    with target.open("wb") as out:
        out.write(car.header([root]))

        def emit(cid: Cid, block: bytes) -> None:
            out.write(car.section(cid, block))

        builder = Builder(emit)
        for chunk in chunks():
            builder.write(chunk)
        builder.finish()
    return root
