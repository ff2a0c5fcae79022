from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multiformats import CID, multihash

from node.store.cid import cid_of, normalize, to_cid, to_digest
from node.store.errors import InvalidCid

# As IPFS prints them for raw blocks (`ipfs add --raw-leaves --cid-version 1` of the bytes).
VECTORS = {
    b"": "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
    b"hello world": "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e",
}


@pytest.mark.parametrize(("data", "cid"), list(VECTORS.items()))
def test_cid_of_known_vectors(data: bytes, cid: str) -> None:
    assert cid_of(data) == cid
    assert to_digest(cid) == hashlib.sha256(data).digest()


@given(st.binary(max_size=256))
def test_cid_round_trips_and_agrees_with_multiformats(data: bytes) -> None:
    digest = hashlib.sha256(data).digest()
    cid = to_cid(digest)
    assert to_digest(cid) == digest
    assert cid == str(CID("base32", 1, "raw", multihash.wrap(digest, "sha2-256")))
    assert normalize("0x" + digest.hex()) == cid
    assert normalize(digest.hex().upper()) == cid


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Qmabc",
        "bafkrei",
        "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyk",  # one char short
        "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyk1",  # 1 is not base32
        "BAFKREIHDWDCEFGH4DQKJV67UZCMW7OJEE6XEDZDETOJUZJEVTENXQUVYKU",  # upper case is another multibase
        "bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",  # dag-cbor codec, not raw
        "../../etc/passwd",
        "0x" + "g" * 64,
    ],
)
def test_malformed_cids_are_refused(text: str) -> None:
    with pytest.raises(InvalidCid):
        to_digest(text)


def test_to_cid_refuses_a_short_digest() -> None:
    with pytest.raises(InvalidCid, match="32 bytes"):
        to_cid(b"\x00" * 31)


def test_every_text_form_of_one_cid_parses_to_it() -> None:
    from node.store.multiformats import DAG_PB, RAW, Cid, parse

    digest = bytes(range(32))
    dag = Cid(DAG_PB, digest)
    assert str(dag).startswith("bafybei")
    v0 = str(Cid(DAG_PB, digest, version=0))
    assert v0.startswith("Qm")
    assert parse(v0).digest == digest
    assert parse(v0).version == 0
    assert parse(str(dag)) == dag
    assert parse("0x" + digest.hex()) == Cid(RAW, digest)
    for bad in ("Qm" + "1" * 44, "bafy", "zzzz", "kxyz!", "b" + "a" * 58):
        with pytest.raises(InvalidCid):
            parse(bad)
