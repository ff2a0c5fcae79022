"""The store server as a real process, and the replicating client against real and lying replicas."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
import psutil
import pytest

from node.store.cid import cid_of
from node.store.client import HttpReplica, LocalReplica, StoreClient
from node.store.errors import ContentNotFound, StoreUnauthorized, StoreUnavailable
from node.store.local import LocalStore
from node.store.multiformats import RAW, Cid
from node.store.unixfs import Link, encode_node
from scripts.benchlib import peak_rss_mb
from testkit.servers import lying_replica, store_server


def test_round_trip_headers_and_idempotent_put(tmp_path: Path) -> None:
    with store_server(tmp_path / "objects") as (url, _):
        data = b"weights" * 1000
        cid = cid_of(data)
        first = httpx.put(f"{url}/ipfs/{cid}", content=data)
        assert first.status_code == 201
        assert first.json() == {"cid": cid, "size": len(data), "created": True}
        again = httpx.put(f"{url}/ipfs/{cid}", content=data)
        assert again.status_code == 200
        assert again.json()["created"] is False
        got = httpx.get(f"{url}/ipfs/{cid}")
        assert got.content == data
        assert got.headers["etag"] == f'"{cid}"'
        assert "immutable" in got.headers["cache-control"]
        head = httpx.head(f"{url}/ipfs/{cid}")
        assert head.status_code == 200
        assert int(head.headers["content-length"]) == len(data)
        assert httpx.get(f"{url}/ipfs/{cid}", headers={"If-None-Match": f'"{cid}"'}).status_code == 304
        assert httpx.get(f"{url}/ipfs/{cid_of(b'absent')}").status_code == 404
        assert httpx.get(f"{url}/ipfs/not-a-cid").status_code == 400
        assert httpx.get(f"{url}/openapi.json").json()["info"]["title"] == "dmlnet store"
        metrics = httpx.get(f"{url}/metrics").text
        assert 'store_requests_total{method="PUT",outcome="ok"} 2.0' in metrics


def test_wrong_digest_and_oversize_uploads_write_nothing(tmp_path: Path) -> None:
    directory = tmp_path / "objects"
    with store_server(directory, max_bytes=1000) as (url, _):
        wrong = httpx.put(f"{url}/ipfs/{cid_of(b'claimed')}", content=b"actual")
        assert wrong.status_code == 422
        big = b"x" * 1001
        assert httpx.put(f"{url}/ipfs/{cid_of(big)}", content=big).status_code == 413

        def chunks() -> object:  # no Content-Length: the cap is enforced while streaming
            yield b"x" * 600
            yield b"x" * 600

        assert httpx.put(f"{url}/ipfs/{cid_of(b'x' * 1200)}", content=chunks()).status_code == 413  # type: ignore[arg-type]
        store = LocalStore(directory)
        for data in (b"actual", big, b"x" * 1200):
            assert not store.has(cid_of(data))
        assert list((directory / ".incoming").iterdir()) == []


def test_a_post_is_named_as_it_streams_in_as_a_writable_gateway_names_it(tmp_path: Path) -> None:
    directory = tmp_path / "objects"
    with store_server(directory, max_bytes=4_000_000) as (url, _):
        for data in (b"weights" * 1000, os.urandom(3_000_000)):  # one raw block; a dag-pb root over three leaves
            cid = cid_of(data)
            first = httpx.post(f"{url}/ipfs/", content=data)
            assert first.status_code == 201
            assert first.json() == {"cid": cid, "size": len(data), "created": True}
            assert first.headers["location"] == f"/ipfs/{cid}"
            assert first.headers["ipfs-hash"] == cid
            again = httpx.post(f"{url}/ipfs/", content=data)
            assert again.status_code == 200
            assert again.json()["created"] is False
            assert httpx.get(f"{url}/ipfs/{cid}").content == data
        ambiguous = encode_node([Link(Cid(RAW, hashlib.sha256(b"x").digest()), 1, 1)])  # reads as a file node
        refused = httpx.post(f"{url}/ipfs/", content=ambiguous)
        too_big = httpx.post(f"{url}/ipfs/", content=b"x" * 4_000_001)
        assert (refused.status_code, too_big.status_code) == (422, 413)
        assert list((directory / ".incoming").iterdir()) == []
    with store_server(tmp_path / "guarded", token="s3cret") as (url, _):
        assert httpx.post(f"{url}/ipfs/", content=b"x").status_code == 401


def test_a_replica_that_misnames_a_write_is_passed_over(tmp_path: Path) -> None:
    source = tmp_path / "obj"
    source.write_bytes(b"named by the client too")
    with lying_replica({}, "misname") as liar, store_server(tmp_path / "good") as (good, _):
        client = StoreClient([HttpReplica(liar), HttpReplica(good)], attempts=1)
        cid = client.put_file(source)
        assert cid == cid_of(b"named by the client too")
        assert LocalStore(tmp_path / "good").has(cid)
        with pytest.raises(StoreUnavailable, match="named by"):
            StoreClient([HttpReplica(liar)], attempts=1).put_file(source)


def test_writes_need_the_token_when_one_is_set(tmp_path: Path) -> None:
    with store_server(tmp_path, token="s3cret") as (url, _):
        cid = cid_of(b"x")
        assert httpx.put(f"{url}/ipfs/{cid}", content=b"x").status_code == 401
        assert httpx.put(f"{url}/ipfs/{cid}", content=b"x", headers={"Authorization": "Bearer nope"}).status_code == 401
        ok = httpx.put(f"{url}/ipfs/{cid}", content=b"x", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 201
        assert httpx.get(f"{url}/ipfs/{cid}").content == b"x", "reads stay open"
        source = tmp_path / "f"
        source.write_bytes(b"y")
        with pytest.raises(StoreUnauthorized):
            StoreClient([HttpReplica(url)]).put_file(source)
        assert StoreClient([HttpReplica(url, token="s3cret")]).put_file(source) == cid_of(b"y")


def test_bytes_corrupted_on_disk_are_never_served(tmp_path: Path) -> None:
    directory = tmp_path / "objects"
    with store_server(directory) as (url, _):
        data = b"model bytes" * 100
        cid = cid_of(data)
        httpx.put(f"{url}/ipfs/{cid}", content=data)
        path = LocalStore(directory).path_of(cid)
        path.write_bytes(data[:-1] + b"!")
        response = httpx.get(f"{url}/ipfs/{cid}")
        assert response.status_code == 404
        assert response.content != data[:-1] + b"!"
        assert (directory / ".corrupt" / cid).exists()


@pytest.mark.parametrize("mode", ["flip", "truncate", "short", "error"])
def test_a_lying_replica_is_caught_every_time_and_the_next_one_serves(tmp_path: Path, mode: str) -> None:
    good = LocalStore(tmp_path / "good")
    objects = {}
    for i in range(5):
        data = os.urandom(50_000 + i)
        objects[good.put(data)] = data
    with lying_replica(objects, mode) as liar:
        client = StoreClient([HttpReplica(liar), LocalReplica(good)], attempts=2, base_delay_s=0.01)
        for cid, data in objects.items():
            assert client.get(cid) == data
        assert client.stats.failovers == len(objects)
        if mode in ("flip", "short"):  # a complete response with the wrong bytes: caught by re-hashing
            assert client.stats.mismatches == len(objects)
        else:  # a connection closed early, or a 500: a transport failure, retried then abandoned
            assert client.stats.retries == len(objects)


def test_when_every_replica_is_bad_the_error_says_so(tmp_path: Path) -> None:
    data = b"the only copy"
    cid = cid_of(data)
    with lying_replica({cid: data}, "flip") as liar_a, lying_replica({cid: data}, "truncate") as liar_b:
        client = StoreClient([HttpReplica(liar_a), HttpReplica(liar_b)], attempts=1)
        with pytest.raises(StoreUnavailable) as info:
            client.get(cid)
        message = str(info.value)
        assert liar_a in message
        assert liar_b in message
        with pytest.raises(ContentNotFound):
            client.get(cid_of(b"nobody has this"))


def test_put_goes_to_n_replicas_and_skips_a_dead_one(tmp_path: Path) -> None:
    with store_server(tmp_path / "a") as (url_a, _), store_server(tmp_path / "b") as (url_b, _):
        dead = "http://127.0.0.1:9"  # discard port: nothing listens
        client = StoreClient([HttpReplica(dead), HttpReplica(url_a), HttpReplica(url_b)], put_replicas=2, attempts=1)
        source = tmp_path / "obj"
        source.write_bytes(b"replicated")
        cid = client.put_file(source)
        assert LocalStore(tmp_path / "a").has(cid)
        assert LocalStore(tmp_path / "b").has(cid)
        assert client.get(cid) == b"replicated"


def test_a_200mb_object_streams_through_the_server_in_bounded_memory(tmp_path: Path) -> None:
    size = 200 * 1024 * 1024
    source = tmp_path / "big.bin"
    with source.open("wb") as f:
        block = os.urandom(1 << 20)
        for i in range(size >> 20):
            f.write(block[i % 7 :] + block[: i % 7])
    with store_server(tmp_path / "objects") as (url, process):
        baseline = peak_rss_mb(process.pid)
        client = StoreClient([HttpReplica(url)])
        cid = client.put_file(source)
        target = tmp_path / "back.bin"
        assert client.get_to_file(cid, target) == size
        assert cid_of(target.read_bytes()) == cid
        peak = peak_rss_mb(process.pid)
        assert psutil.Process(process.pid).is_running()
    # 200 MB went through both ways; the server grew by a small fraction of that.
    assert peak - baseline < 64, f"server peak RSS grew by {peak - baseline:.0f} MB"


def test_concurrent_puts_of_the_same_object_through_the_server(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    directory = tmp_path / "objects"
    data = os.urandom(3 * 1024 * 1024)
    cid = cid_of(data)
    with store_server(directory) as (url, _):
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(
                pool.map(lambda _: httpx.put(f"{url}/ipfs/{cid}", content=data, timeout=60).status_code, range(16))
            )
        assert set(statuses) <= {200, 201}
        assert 201 in statuses
        assert httpx.get(f"{url}/ipfs/{cid}", timeout=60).content == data
    assert list((directory / ".incoming").iterdir()) == []
