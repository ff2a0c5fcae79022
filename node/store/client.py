"""Reading and writing several replicas, trusting none of them.

A put goes to ``replicas`` endpoints (trying the next on a failure). A get reads the object block by block
(``node.store.dag``): each block from the first replica that serves one hashing to its CID, so a replica that
fails, lies or lacks a block mid-object hands over to the next without starting again. Transient failures are
retried with exponential backoff and full jitter first. An endpoint is a URL (a dmlnet store server, or any IPFS
trustless gateway for reads), ``kubo+http(s)://HOST:PORT`` (a Kubo node's RPC: ``node.store.kubo``) or a folder
path (a local store).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import queue
import random
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar
from urllib.parse import urlsplit

from node.errors import StoreError
from node.retry import RetryPolicy, retry
from node.store import car, dag
from node.store.errors import (
    ContentNotFound,
    DigestMismatch,
    ObjectTooLarge,
    StoreUnauthorized,
    StoreUnavailable,
    TransientReplicaError,
    exchange,
    raise_for_status,
)
from node.store.local import CHUNK, LocalStore
from node.store.multiformats import DAG_PB, RAW, Cid, parse
from node.store.unixfs import Builder

log = logging.getLogger(__name__)

T = TypeVar("T")
RAW_BLOCK = "application/vnd.ipld.raw"


class Replica(Protocol):
    name: str

    def put_file(self, path: Path, cid: str | None) -> str:
        """Stores the file as the object ``cid`` (with None: names it while it streams); returns its CID."""

    def put_car(self, path: Path, root: str) -> None:
        """Stores the object a (checked) CAR file holds."""

    def block(self, cid: Cid) -> bytes:
        """The block of ``cid`` as the replica has it (the client checks it)."""


class LocalReplica:
    def __init__(self, store: LocalStore) -> None:
        self.store = store
        self.name = str(store.root)

    def put_file(self, path: Path, cid: str | None) -> str:
        return self.store.put_stream(_file_chunks(path), expected_cid=cid)

    def put_car(self, path: Path, root: str) -> None:
        with path.open("rb") as f:
            self.store.import_car(f, root)

    def block(self, cid: Cid) -> bytes:
        # Read raw: the client re-hashes anyway, and a corrupt local copy must fall through like a remote one.
        try:
            return self.store.path_of(cid).read_bytes()
        except FileNotFoundError as err:
            raise ContentNotFound(str(cid), self.name) from err


class HttpReplica:
    """A store server or trustless gateway over HTTP(S): blocks by ``GET /ipfs/{cid}?format=raw`` on one kept-alive
    connection, objects by ``PUT /ipfs/{cid}`` (a dmlnet store server; a gateway that refuses writes is passed
    over). The standard library's ``http.client`` reads into one buffer, about twice as fast as a general-purpose
    client here."""

    def __init__(self, base_url: str, *, token: str | None = None, timeout_s: float = 30.0) -> None:
        self.name = base_url.rstrip("/")
        parsed = urlsplit(self.name)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"not an http(s) URL: {base_url}")
        self._scheme = parsed.scheme
        self._host = parsed.hostname
        self._port = parsed.port
        self._prefix = parsed.path.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout_s = timeout_s
        self._local = threading.local()  # one kept-alive connection per thread

    def _connection(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
        return cls(self._host, self._port, timeout=self._timeout_s, blocksize=CHUNK)

    def put_file(self, path: Path, cid: str | None) -> str:
        if cid is not None:
            self._send("PUT", f"/ipfs/{cid}", path, cid, "application/octet-stream", _file_chunks(path))
            return cid
        # Named while it streams (one pass over the file, not one to name it and one to send it): the server names
        # what it received, and the two names must agree.
        builder = Builder(_discard)

        def named_chunks() -> Iterator[bytes]:
            for chunk in _file_chunks(path):
                builder.write(chunk)
                yield chunk

        answer = self._send("POST", "/ipfs/", path, path.name, "application/octet-stream", named_chunks())
        ours = builder.finish().root
        try:
            theirs = parse(str(json.loads(answer)["cid"]))
        except (ValueError, KeyError, TypeError, StoreError) as err:
            raise StoreError(f"{self.name}: a write answered without a CID: {answer[:200]!r}") from err
        if theirs.digest != ours.digest:
            raise DigestMismatch(str(ours), f"{theirs} (named by {self.name})")
        return str(ours)

    def put_car(self, path: Path, root: str) -> None:
        self._send("PUT", f"/ipfs/{root}", path, root, car.CONTENT_TYPE, _file_chunks(path))

    def _send(self, method: str, target: str, path: Path, what: str, content_type: str, body: Iterator[bytes]) -> bytes:
        conn = self._connection()
        size = path.stat().st_size
        headers = {**self._headers, "Content-Length": str(size), "Content-Type": content_type}
        status, answer = exchange(conn, self.name, method, f"{self._prefix}{target}", body=body, headers=headers)
        raise_for_status(status, answer, what, self.name, size)
        return answer

    def car(self, root: Cid) -> Iterator[tuple[Cid, bytes]]:
        """The object's blocks from ``?format=car``, each checked against its CID. A thread receives the next blocks
        (up to 8 MiB ahead) while this one hashes and hands them out: both release the GIL."""
        conn = self._connection()
        ahead: queue.Queue[tuple[Cid, bytes] | BaseException | None] = queue.Queue(maxsize=8)
        stop = threading.Event()

        def receive() -> None:
            try:
                conn.request(
                    "GET",
                    f"{self._prefix}/ipfs/{root}?format=car",
                    headers={**self._headers, "Accept": car.CONTENT_TYPE},
                )
                response = conn.getresponse()
                if response.status != 200:
                    raise_for_status(response.status, response.read(), str(root), self.name)
                    raise StoreError(f"{self.name}: HTTP {response.status}")
                _roots, blocks = car.read_car(response, check=False)
                for item in blocks:
                    if stop.is_set():
                        return
                    ahead.put(item)
                ahead.put(None)
            except BaseException as err:  # the thread's boundary: what ended it is the reader's to judge
                if stop.is_set():
                    return  # the reader closed the connection under this read (http.client then fails anyhow)
                if isinstance(err, (OSError, http.client.HTTPException)):
                    err = _ConnectionFailed(f"{self.name}: {type(err).__name__}: {err}")
                ahead.put(err)

        receiver = threading.Thread(target=receive, name="car-receive", daemon=True)
        receiver.start()
        try:
            while (item := ahead.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield car.checked_section(*item)
        finally:
            stop.set()
            # Ends a receive blocked on the socket: shut down first, since closing the response waits for the lock
            # its reading thread holds, until the gateway sends the stream's end or the socket times out.
            if conn.sock is not None:
                with contextlib.suppress(OSError):
                    conn.sock.shutdown(socket.SHUT_RDWR)
            conn.close()
            with contextlib.suppress(queue.Empty):
                while True:
                    ahead.get_nowait()  # frees a receive blocked on a full queue
            receiver.join(timeout=5)

    def block(self, cid: Cid) -> bytes:
        kept = getattr(self._local, "conn", None)
        self._local.conn = None
        if kept is not None:
            try:
                return self._block(kept, cid)
            except _ConnectionFailed:
                pass  # the server may have closed the idle connection: once more on a new one
        return self._block(self._connection(), cid)

    def _block(self, conn: http.client.HTTPConnection, cid: Cid) -> bytes:
        try:
            conn.request("GET", f"{self._prefix}/ipfs/{cid}?format=raw", headers={**self._headers, "Accept": RAW_BLOCK})
            response = conn.getresponse()
            if response.status != 200:
                body = response.read()
                conn.close()
                raise_for_status(response.status, body, str(cid), self.name)
            announced = response.length
            data = response.read()
            if announced is not None and len(data) < announced:
                raise TransientReplicaError(f"{self.name}: short read, {len(data)} of {announced} bytes")
        except (OSError, http.client.HTTPException) as err:
            conn.close()
            raise _ConnectionFailed(f"{self.name}: {type(err).__name__}: {err}") from err
        if response.will_close:
            conn.close()
        else:
            self._local.conn = conn
        return data


class _Streamed:
    """The blocks of one object: the root by itself (``?format=raw`` on a kept-alive connection: most objects are that
    one block), then, for an object of several blocks, the rest from the first replica's CAR stream (one request
    instead of one a block) while they come in the order the reader asks for them; from the first block the stream
    does not deliver (broken, corrupt, another order, a replica without CARs) on, block by block across every
    replica (``StoreClient.block``)."""

    def __init__(self, client: StoreClient, root: Cid) -> None:
        self._client = client
        self._root = root
        self._demoted: set[str] = set()
        self._stream: Iterator[tuple[Cid, bytes]] | None = None
        self._asked = 0

    def block(self, cid: Cid) -> bytes:
        self._asked += 1
        first = self._client.replicas[0]
        if self._asked == 2 and isinstance(first, HttpReplica):  # a file node: its children follow in DAG order
            self._stream = first.car(self._root)
            self._name = first.name
            with contextlib.suppress(StoreError, StopIteration):
                next(self._stream)  # the root, already read
        if self._stream is not None:
            try:
                got, data = next(self._stream)
                if got.digest == cid.digest:
                    stats = self._client.stats
                    stats.by_replica[self._name] = stats.by_replica.get(self._name, 0) + 1
                    return data
            except StopIteration:
                pass
            except StoreError as err:  # the blocks it did not deliver are judged one by one below (and logged there)
                log.debug("CAR stream ended early, reading block by block", extra={"cid": str(cid), "error": str(err)})
            self.close()
        return self._client.block(cid, self._demoted)

    def close(self) -> None:
        if self._stream is not None:
            close = getattr(self._stream, "close", None)
            if close is not None:
                close()
            self._stream = None


class _ConnectionFailed(TransientReplicaError):
    """A connection that broke (reset, closed, truncated), as opposed to an answer that says no."""


def replica_for(endpoint: str, *, token: str | None = None) -> Replica:
    if endpoint.startswith(("kubo+http://", "kubo+https://")):
        from node.store.kubo import KuboReplica

        return KuboReplica(endpoint.removeprefix("kubo+"))
    if endpoint.startswith(("http://", "https://")):
        return HttpReplica(endpoint, token=token)
    return LocalReplica(LocalStore(Path(endpoint)))


@dataclass
class StoreStats:
    """What the client saw: failovers are invisible to callers except here and in the logs."""

    gets: int = 0
    puts: int = 0
    failovers: int = 0
    retries: int = 0
    mismatches: int = 0
    by_replica: dict[str, int] = field(default_factory=dict)


def write_pieces(target: Path, pieces: Iterable[bytes]) -> int:
    """Writes ``pieces`` to ``target`` atomically (a partial file beside it, renamed when whole; removed when the
    pieces fail); returns the bytes written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".partial-")
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for piece in pieces:
                out.write(piece)
                size += len(piece)
        os.replace(tmp_name, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
    return size


class StoreClient:
    def __init__(
        self,
        replicas: Sequence[Replica],
        *,
        put_replicas: int = 1,
        max_bytes: int | None = None,
        attempts: int = 3,
        base_delay_s: float = 0.1,
        max_delay_s: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not replicas:
            raise ValueError("a store client needs at least one replica")
        self.replicas = list(replicas)
        self.put_replicas = max(1, min(put_replicas, len(self.replicas)))
        self.max_bytes = max_bytes
        self._policy = RetryPolicy(attempts, base_delay_s, max_delay_s)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.stats = StoreStats()

    @classmethod
    def from_endpoints(cls, endpoints: Sequence[str], *, token: str | None = None, **options: object) -> StoreClient:
        return cls([replica_for(e, token=token) for e in endpoints], **options)  # type: ignore[arg-type]

    # ---------------------------------------------------------------------------------------------- writes

    def put(self, data: bytes) -> str:
        with tempfile.NamedTemporaryFile(delete=False) as tmp:
            tmp.write(data)
        try:
            return self.put_file(Path(tmp.name))
        finally:
            os.unlink(tmp.name)

    def put_file(self, path: Path) -> str:
        """Stores the file on ``put_replicas`` replicas; returns its CID (the one IPFS computes). The first replica
        that stores it names it as it streams (the client names it on the way too, and the names must agree); the
        others are sent it under that name."""
        size = path.stat().st_size
        if self.max_bytes is not None and size > self.max_bytes:
            raise ObjectTooLarge(size, self.max_bytes)
        named: list[str] = []

        def put(replica: Replica) -> None:
            cid = replica.put_file(path, named[0] if named else None)
            if not named:
                named.append(cid)

        self._put_everywhere(str(path), put)
        return named[0]

    def put_car(self, path: Path) -> str:
        """Checks a CAR (one root, every block hashing to its CID, the root's DAG whole) and stores its object on
        ``put_replicas`` replicas; returns the root's CID."""
        with tempfile.TemporaryDirectory() as tmp:
            scratch = LocalStore(Path(tmp), max_bytes=self.max_bytes)
            with path.open("rb") as f:
                cid = scratch.import_car(f)
        self._put_everywhere(cid, lambda r: r.put_car(path, cid))
        return cid

    def _put_everywhere(self, what: str, put: Callable[[Replica], None]) -> None:
        """``put`` on replicas in order until ``put_replicas`` of them stored the object ``what`` names."""
        stored: list[str] = []
        failures: list[str] = []
        for replica in self.replicas:
            if len(stored) == self.put_replicas:
                break
            try:
                self._retrying(lambda r=replica: put(r), replica.name)  # type: ignore[misc]
                stored.append(replica.name)
            except (StoreUnauthorized, ObjectTooLarge):
                raise
            except StoreError as err:
                failures.append(f"{replica.name}: {err}")
                log.warning("store put failed, trying the next replica", extra={"object": what, "error": str(err)})
        if not stored:
            raise StoreUnavailable(f"no replica stored {what}: " + "; ".join(failures))
        if len(stored) < self.put_replicas:
            log.warning("object stored on fewer replicas than asked", extra={"object": what, "stored": len(stored)})
        self.stats.puts += 1

    # ---------------------------------------------------------------------------------------------- reads

    def get(self, cid: str) -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "object"
            self.get_to_file(cid, target)
            return target.read_bytes()

    def get_to_file(self, cid: str, target: Path) -> int:
        """Writes the object's checked bytes to ``target`` (atomically); returns its size."""
        wanted = parse(cid)
        stream = _Streamed(self, wanted)
        try:
            size = write_pieces(target, dag.iter_bytes(wanted, stream.block, max_bytes=self.max_bytes))
        finally:
            stream.close()
        self.stats.gets += 1
        return size

    def export_car(self, cid: str, target: Path) -> tuple[str, int]:
        """Writes the object's checked blocks as a CARv1 in DAG order to ``target`` (atomically), what ``ipfs dag
        import`` takes; returns the object's own CID and the CAR's size."""
        root = parse(self.cid_for(cid))
        return str(root), write_pieces(target, car.iter_car(root, self.iter_blocks(str(root))))

    def iter_blocks(self, cid: str) -> Iterator[tuple[Cid, bytes]]:
        """The object's checked blocks in DAG order (what ``dml store export`` writes into a CAR)."""
        demoted: set[str] = set()
        return dag.iter_blocks(parse(cid), lambda c: self.block(c, demoted), max_bytes=self.max_bytes)

    def cid_for(self, cid_or_digest: str) -> str:
        """The object's own CID (codec dag-pb or raw, as IPFS names it) for a digest or block address."""
        wanted = parse(cid_or_digest)
        node = dag.root_node(wanted, self.block(wanted))
        return str(Cid(DAG_PB if node is not None else RAW, wanted.digest))

    def block(self, cid: Cid, demoted: set[str] | None = None) -> bytes:
        """One block, checked, from the first replica that has a good copy. Replicas named in ``demoted`` (those
        that failed or lied earlier in the same object: one read does not wait on a dead replica for every block)
        are asked last; a replica that fails or lies now is added to it."""
        failures: list[str] = []
        not_found = 0
        shunned = demoted if demoted is not None else set()
        order = [r for r in self.replicas if r.name not in shunned] + [r for r in self.replicas if r.name in shunned]
        for replica in order:
            position = self.replicas.index(replica)
            try:
                block: bytes = self._retrying(lambda r=replica: r.block(cid), replica.name)  # type: ignore[misc]
                dag.checked(cid, block, replica.name)
            except ContentNotFound:
                not_found += 1
                failures.append(f"{replica.name}: not found")
            except DigestMismatch as err:
                self.stats.mismatches += 1
                shunned.add(replica.name)
                failures.append(f"{replica.name}: {err}")
                log.warning("replica served bad bytes", extra={"cid": str(cid), "replica": replica.name})
            except StoreError as err:
                shunned.add(replica.name)
                failures.append(f"{replica.name}: {err}")
                log.warning("replica failed", extra={"cid": str(cid), "replica": replica.name, "error": str(err)})
            else:
                self.stats.failovers += position > 0
                self.stats.by_replica[replica.name] = self.stats.by_replica.get(replica.name, 0) + 1
                return block
        if not_found == len(self.replicas):
            raise ContentNotFound(str(cid), ", ".join(r.name for r in self.replicas))
        raise StoreUnavailable(f"no replica served good bytes for {cid}: " + "; ".join(failures))

    def _retrying(self, action: Callable[[], T], name: str) -> T:
        def count(_attempt: int, err: Exception) -> None:
            self.stats.retries += 1
            log.info("transient store failure, retrying", extra={"replica": name, "error": str(err)})

        return retry(
            action,
            retry_if=lambda err: isinstance(err, TransientReplicaError),
            policy=self._policy,
            on_retry=count,
            sleep=self._sleep,
            rng=self._rng,
        )


def _discard(_cid: Cid, _block: bytes) -> None:
    """A builder's sink when only the name is wanted."""


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk
