"""CARv1 writing and reading, and importing one into a store: every block checked, the DAG whole, nothing kept
otherwise."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from node.store import car
from node.store.cid import cid_of
from node.store.errors import InvalidCar
from node.store.local import LocalStore
from node.store.multiformats import DAG_PB, Cid, parse, varint
from node.store.unixfs import CHUNK_SIZE


def _car_of(store: LocalStore, cid: str) -> bytes:
    return b"".join(car.iter_car(parse(cid), store.iter_blocks(cid)))


def test_a_car_round_trips_into_another_store(tmp_path: Path) -> None:
    data = os.urandom(2 * CHUNK_SIZE + 9)
    source = LocalStore(tmp_path / "a")
    cid = source.put(data)
    target = LocalStore(tmp_path / "b")
    assert target.import_car(io.BytesIO(_car_of(source, cid))) == cid
    assert target.get(cid) == data


def test_a_flipped_byte_a_missing_block_or_a_truncation_is_refused_and_nothing_kept(tmp_path: Path) -> None:
    source = LocalStore(tmp_path / "a")
    cid = source.put(os.urandom(2 * CHUNK_SIZE + 9))
    good = _car_of(source, cid)
    flipped = bytearray(good)
    flipped[-5] ^= 1
    roots, blocks = car.read_car(io.BytesIO(good))
    listed = list(blocks)
    missing = car.header(roots) + b"".join(car.section(c, b) for c, b in listed[:-1])
    for bad in (bytes(flipped), missing, good[:-100]):
        target = LocalStore(tmp_path / "b")
        with pytest.raises(InvalidCar):
            target.import_car(io.BytesIO(bad))
        assert not any(p.is_file() for p in target.root.rglob("bafk*")), "nothing of a refused CAR is kept"


def test_a_car_for_another_root_or_with_two_roots_is_refused(tmp_path: Path) -> None:
    source = LocalStore(tmp_path / "a")
    cid = source.put(b"one")
    other = source.put(b"two")
    with pytest.raises(InvalidCar, match="not"):
        LocalStore(tmp_path / "b").import_car(io.BytesIO(_car_of(source, cid)), expected_root=other)
    two = car.header([parse(cid), parse(other)])
    with pytest.raises(InvalidCar, match="2 roots"):
        LocalStore(tmp_path / "b").import_car(io.BytesIO(two))
    with pytest.raises(InvalidCar, match="not a CAR"):
        car.read_car(io.BytesIO(b""))
    assert cid == cid_of(b"one")


def test_a_section_reads_its_cid_v0_or_v1_and_refuses_one_it_cannot_use() -> None:
    v1 = parse(cid_of(b"block"))
    v0 = Cid(DAG_PB, v1.digest, 0)
    for cid in (v1, v0):
        _roots, blocks = car.read_car(io.BytesIO(car.header([cid]) + car.section(cid, b"block")), check=False)
        assert list(blocks) == [(cid, b"block")]
    raw = v1.to_bytes()
    for body, why in (
        (raw[:20], "32 bytes"),  # a section shorter than any CID
        (b"\x02" + raw[1:] + b"block", "version"),  # CIDv2
        (raw[:1] + b"\x71" + raw[2:] + b"block", "codec"),  # dag-cbor
    ):
        with pytest.raises(InvalidCar, match=why):
            list(car.read_car(io.BytesIO(car.header([v1]) + varint(len(body)) + body))[1])
