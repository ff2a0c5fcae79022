"""Replica fail-over and retry policy, with small in-process replicas (the client is the unit here)."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from node.store import car
from node.store.cid import Cid, cid_of
from node.store.client import HttpReplica, LocalReplica, StoreClient, write_pieces
from node.store.errors import ContentNotFound, ObjectTooLarge, StoreUnavailable, TransientReplicaError
from node.store.local import LocalStore
from node.store.multiformats import parse
from node.store.unixfs import CHUNK_SIZE
from testkit.polling import wait_until
from testkit.servers import fake_kubo, serve_in_thread


class FlakyReplica:
    """Fails transiently `failures` times, then serves from a local store."""

    def __init__(self, store: LocalStore, failures: int) -> None:
        self.inner = LocalReplica(store)
        self.name = f"flaky({failures})"
        self.failures = failures
        self.calls = 0

    def put_file(self, path: Path, cid: str | None) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise TransientReplicaError("connection reset")
        return self.inner.put_file(path, cid)

    def put_car(self, path: Path, root: str) -> None:
        self.inner.put_car(path, root)

    def block(self, cid: Cid) -> bytes:
        self.calls += 1
        if self.calls <= self.failures:
            raise TransientReplicaError("connection reset")
        return self.inner.block(cid)


def test_transient_failures_are_retried_with_growing_jittered_delays(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    cid = store.put(b"data")
    sleeps: list[float] = []
    replica = FlakyReplica(store, failures=3)
    client = StoreClient([replica], attempts=4, base_delay_s=0.1, max_delay_s=10, sleep=sleeps.append)
    assert client.get(cid) == b"data"
    assert len(sleeps) == 3
    assert all(0 <= s <= 0.1 * 2**i for i, s in enumerate(sleeps))
    assert client.stats.retries == 3
    assert client.stats.failovers == 0


def test_retries_exhausted_fall_through_to_the_next_replica(tmp_path: Path) -> None:
    good = LocalStore(tmp_path / "good")
    cid = good.put(b"data")
    flaky = FlakyReplica(LocalStore(tmp_path / "flaky"), failures=100)
    client = StoreClient([flaky, LocalReplica(good)], attempts=2, sleep=lambda _: None)
    assert client.get(cid) == b"data"
    assert flaky.calls == 2
    assert client.stats.failovers == 1


def test_a_corrupt_local_replica_falls_through(tmp_path: Path) -> None:
    bad, good = LocalStore(tmp_path / "bad"), LocalStore(tmp_path / "good")
    cid = bad.put(b"data")
    good.put(b"data")
    bad.path_of(cid).write_bytes(b"dat")
    client = StoreClient([LocalReplica(bad), LocalReplica(good)])
    assert client.get(cid) == b"data"
    assert client.stats.mismatches == 1


def test_not_found_everywhere_is_content_not_found(tmp_path: Path) -> None:
    client = StoreClient([LocalReplica(LocalStore(tmp_path / "a")), LocalReplica(LocalStore(tmp_path / "b"))])
    with pytest.raises(ContentNotFound):
        client.get(cid_of(b"nothing"))


def test_put_needs_at_least_one_replica_to_succeed(tmp_path: Path) -> None:
    flaky = FlakyReplica(LocalStore(tmp_path / "x"), failures=100)
    client = StoreClient([flaky], attempts=2, sleep=lambda _: None)
    with pytest.raises(StoreUnavailable, match="no replica stored"):
        client.put(b"data")


def test_client_size_cap(tmp_path: Path) -> None:
    client = StoreClient([LocalReplica(LocalStore(tmp_path))], max_bytes=3)
    with pytest.raises(ObjectTooLarge):
        client.put(b"four")
    big = LocalStore(tmp_path / "big")
    cid = big.put(b"four")
    with pytest.raises(ObjectTooLarge):  # the root block says so: no replica is asked for more
        StoreClient([LocalReplica(big)], max_bytes=3).get(cid)


def test_put_replicates_to_n(tmp_path: Path) -> None:
    stores = [LocalStore(tmp_path / str(i)) for i in range(3)]
    client = StoreClient([LocalReplica(s) for s in stores], put_replicas=2)
    cid = client.put(b"data")
    assert [s.has(cid) for s in stores] == [True, True, False]


class PartialReplica:
    """Serves the first ``blocks`` blocks it is asked for, then fails as a dropped connection would."""

    def __init__(self, store: LocalStore, blocks: int) -> None:
        self.inner = LocalReplica(store)
        self.name = "partial"
        self.left = blocks

    def put_file(self, path: Path, cid: str | None) -> str:
        return self.inner.put_file(path, cid)

    def put_car(self, path: Path, root: str) -> None:
        self.inner.put_car(path, root)

    def block(self, cid: Cid) -> bytes:
        self.left -= 1
        if self.left < 0:
            raise TransientReplicaError("connection reset")
        return self.inner.block(cid)


def test_a_large_object_resumes_on_the_next_replica_where_the_first_stopped(tmp_path: Path) -> None:
    data = os.urandom(5 * CHUNK_SIZE + 1)
    first, second = LocalStore(tmp_path / "a"), LocalStore(tmp_path / "b")
    cid = first.put(data)
    second.put(data)
    partial = PartialReplica(first, blocks=3)
    client = StoreClient([partial, LocalReplica(second)], attempts=1)
    assert client.get(cid) == data
    assert client.stats.by_replica == {"partial": 3, str(second.root): 4}  # root + 2 leaves, then 4 leaves


def test_a_kubo_node_is_a_replica_through_its_rpc(tmp_path: Path) -> None:
    """Against an in-process stand-in for Kubo's RPC (block/get, dag/import, pin/add: the calls and the multipart
    CAR upload as Kubo's documentation gives them); no Kubo binary can run here."""
    data = os.urandom(2 * CHUNK_SIZE + 7)
    with fake_kubo(LocalStore(tmp_path / "kubo")) as (url, pins):
        client = StoreClient.from_endpoints([f"kubo+{url}"])
        source = tmp_path / "object"
        source.write_bytes(data)
        cid = client.put_file(source)
        assert pins == [cid]
        assert StoreClient.from_endpoints([f"kubo+{url}"]).get(cid) == data
        with pytest.raises(ContentNotFound):
            client.get(cid_of(b"absent"))


def test_a_dead_replica_is_asked_once_per_object_not_once_per_block(tmp_path: Path) -> None:
    data = os.urandom(5 * CHUNK_SIZE + 1)
    good = LocalStore(tmp_path / "good")
    cid = good.put(data)
    dead = FlakyReplica(LocalStore(tmp_path / "dead"), failures=10_000)
    client = StoreClient([dead, LocalReplica(good)], attempts=2, sleep=lambda _: None)
    assert client.get(cid) == data
    assert dead.calls == 2  # two attempts on the root block; its 6 leaves went straight to the good replica
    assert client.stats.by_replica == {str(good.root): 7}


class _LateEndingGateway(BaseHTTPRequestHandler):
    """Serves one object: its root by ``?format=raw``, its CAR chunked, with the stream's last chunk held back until
    ``release`` is set (the reader has every block by then and closes the connection while its receiving thread
    still reads); ``ended`` is set once the handler is done."""

    protocol_version = "HTTP/1.1"
    store: LocalStore
    release: threading.Event
    ended: threading.Event

    def do_GET(self) -> None:
        cid = parse(self.path.split("?", 1)[0].rsplit("/", 1)[-1])
        if "format=raw" in self.path:
            block = self.store.block(cid)
            self.send_response(200)
            self.send_header("Content-Length", str(len(block)))
            self.end_headers()
            self.wfile.write(block)
            return
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for piece in car.iter_car(cid, self.store.iter_blocks(cid)):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        self.wfile.flush()
        self.release.wait(timeout=30)
        with contextlib.suppress(OSError):
            self.wfile.write(b"0\r\n\r\n")
        self.ended.set()

    def log_message(self, *args: object) -> None:
        pass


def test_a_read_that_ends_before_its_car_stream_leaves_no_error_on_the_receiving_thread(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "objects")
    data = os.urandom(3 * CHUNK_SIZE + 7)
    cid = store.put(data)
    escaped: list[BaseException | None] = []
    previous = threading.excepthook
    threading.excepthook = lambda args: escaped.append(args.exc_value)
    release, ended = threading.Event(), threading.Event()
    handler = type("Gateway", (_LateEndingGateway,), {"store": store, "release": release, "ended": ended})
    try:
        with serve_in_thread(handler) as url:
            client = StoreClient([HttpReplica(url)])
            assert client.get(cid) == data  # every block read, the stream's end still held back
            assert client.stats.by_replica[url] == 5, "the root by itself, then four leaves from the CAR stream"
            release.set()
            assert ended.wait(timeout=30), "the gateway sent the stream's end"
            wait_until(
                lambda: not any(t.name == "car-receive" for t in threading.enumerate()),
                timeout_s=30,
                what="the receiving thread to end",
            )
    finally:
        threading.excepthook = previous
    assert escaped == []


def test_write_pieces_writes_whole_or_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "out" / "object.car"
    assert write_pieces(target, [b"ab", b"", b"cde"]) == 5
    assert target.read_bytes() == b"abcde"

    def failing() -> Iterator[bytes]:
        yield b"new bytes"
        raise ContentNotFound("bafy", "a replica")

    with pytest.raises(ContentNotFound):
        write_pieces(target, failing())
    assert target.read_bytes() == b"abcde", "the earlier file is untouched"
    assert sorted(p.name for p in target.parent.iterdir()) == ["object.car"], "no partial file left"
