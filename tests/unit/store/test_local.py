from __future__ import annotations

import threading
from pathlib import Path

import pytest

from node.store.cid import cid_of
from node.store.errors import ContentNotFound, DigestMismatch, ObjectTooLarge
from node.store.local import LocalStore


def test_round_trip_and_idempotent_put(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    data = b"a model" * 1000
    cid = store.put(data)
    assert cid == cid_of(data)
    assert store.put(data) == cid
    assert store.get(cid) == data
    assert store.size(cid) == len(data)
    path = store.path_of(cid)
    assert path.parent.parent.parent == tmp_path
    assert path.name == cid
    assert list((tmp_path / ".incoming").iterdir()) == [], "no temporary file left behind"


def test_put_file_and_get_to_file_stream(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    source = tmp_path / "big.bin"
    source.write_bytes(bytes(range(256)) * 20_000)  # 5 MB, several chunks
    cid = store.put_file(source)
    target = tmp_path / "out.bin"
    assert store.get_to_file(cid, target) == source.stat().st_size
    assert target.read_bytes() == source.read_bytes()


def test_expected_cid_mismatch_keeps_nothing(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    with pytest.raises(DigestMismatch):
        store.put_stream([b"actual bytes"], expected_cid=cid_of(b"other bytes"))
    assert not store.has(cid_of(b"actual bytes"))
    assert list((tmp_path / ".incoming").iterdir()) == []


def test_size_cap_refuses_and_keeps_nothing(tmp_path: Path) -> None:
    store = LocalStore(tmp_path, max_bytes=10)
    with pytest.raises(ObjectTooLarge):
        store.put(b"x" * 11)
    assert not store.has(cid_of(b"x" * 11))
    assert store.put(b"x" * 10) == cid_of(b"x" * 10)


def test_corrupt_object_is_never_returned_and_is_quarantined(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    cid = store.put(b"precious weights")
    store.path_of(cid).write_bytes(b"precious weighTs")
    with pytest.raises(DigestMismatch):
        store.get(cid)
    assert not store.has(cid)
    assert (tmp_path / ".corrupt" / cid).exists()
    with pytest.raises(ContentNotFound):
        store.get(cid)


def test_concurrent_puts_of_the_same_object(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    data = b"same bytes " * 100_000
    results: list[str] = []
    errors: list[BaseException] = []

    def put() -> None:
        try:
            results.append(store.put(data))
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=put) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert set(results) == {cid_of(data)}
    assert store.get(cid_of(data)) == data


def test_missing_object(tmp_path: Path) -> None:
    with pytest.raises(ContentNotFound):
        LocalStore(tmp_path).get(cid_of(b"never stored"))
