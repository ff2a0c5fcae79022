"""UnixFS encoding and reading: layouts, the codec a digest names, and blocks that lie about their place."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from node.store import dag
from node.store.cid import cid_of, digest_of, to_cid
from node.store.errors import AmbiguousObject, InvalidBlock, ObjectTooLarge
from node.store.local import LocalStore
from node.store.multiformats import DAG_PB, RAW, Cid, parse, sha256
from node.store.unixfs import CHUNK_SIZE, Builder, Link, decode_node, encode_node, root_codec


def _blocks(data: bytes, **layout: int) -> tuple[Cid, dict[bytes, bytes]]:
    blocks: dict[bytes, bytes] = {}
    builder = Builder(lambda cid, block: blocks.__setitem__(cid.digest, block), **layout)
    builder.write(data)
    return builder.finish().root, blocks


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 5])
def test_an_object_reads_back_from_its_blocks_and_the_chain_digest_names_it(size: int) -> None:
    data = os.urandom(size)
    root, blocks = _blocks(data)
    assert root.codec == (RAW if size <= CHUNK_SIZE else DAG_PB)
    assert str(root) == cid_of(data)
    assert digest_of(data) == root.digest
    fetch = lambda c: blocks[c.digest]  # noqa: E731
    assert b"".join(dag.iter_bytes(root, fetch)) == data
    # the chain's form: the digest written as a raw-codec CID reads as the same object
    assert b"".join(dag.iter_bytes(parse(to_cid(root.digest)), fetch)) == data
    assert root_codec(blocks[root.digest]) == root.codec


@pytest.mark.parametrize("step", [333_333, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE])
def test_pieces_of_any_size_encode_as_one_write(step: int) -> None:
    data = os.urandom(3 * CHUNK_SIZE + 3)
    builder = Builder(lambda _c, _b: None)
    for i in range(0, len(data), step):
        builder.write(data[i : i + step])
    assert str(builder.finish().root) == cid_of(data)


def test_a_reused_write_buffer_does_not_change_what_was_written() -> None:
    data = os.urandom(2 * CHUNK_SIZE + 7)
    emitted: dict[bytes, bytes] = {}
    builder = Builder(lambda cid, block: emitted.__setitem__(cid.digest, bytes(block)))
    buffer = bytearray(CHUNK_SIZE)
    for i in range(0, len(data), CHUNK_SIZE):
        piece = data[i : i + CHUNK_SIZE]
        buffer[: len(piece)] = piece
        builder.write(memoryview(buffer)[: len(piece)])
        buffer[:] = bytes(CHUNK_SIZE)  # the caller reuses its buffer at once
    root = builder.finish().root
    assert str(root) == cid_of(data)
    assert b"".join(dag.iter_bytes(root, lambda c: emitted[c.digest])) == data


def test_a_deep_tree_reads_back_in_order() -> None:
    data = os.urandom(50_017)
    root, blocks = _blocks(data, chunk_size=1000, max_links=3)
    assert b"".join(dag.iter_bytes(root, lambda c: blocks[c.digest])) == data
    order = [c for c, _ in dag.iter_blocks(root, lambda c: blocks[c.digest])]
    assert order[0] == root
    assert len(set(order)) == len(blocks)


def test_a_node_that_lies_about_a_childs_size_is_refused() -> None:
    leaves = [os.urandom(10), os.urandom(10)]
    links = [Link(Cid(RAW, sha256(x)), 10, 10) for x in leaves]
    lying = encode_node([links[0], Link(links[1].cid, 10, 11)])
    blocks = {sha256(x): x for x in leaves} | {sha256(lying): lying}
    with pytest.raises(InvalidBlock):
        b"".join(dag.iter_bytes(Cid(DAG_PB, sha256(lying)), lambda c: blocks[c.digest]))


def test_the_size_cap_is_checked_from_the_root_before_any_leaf() -> None:
    root, blocks = _blocks(os.urandom(CHUNK_SIZE + 1))
    asked: list[Cid] = []

    def fetch(cid: Cid) -> bytes:
        asked.append(cid)
        return blocks[cid.digest]

    with pytest.raises(ObjectTooLarge):
        list(dag.iter_bytes(root, fetch, max_bytes=CHUNK_SIZE))
    assert asked == [root]


def test_bytes_that_would_read_as_a_node_are_refused_on_write(tmp_path: Path) -> None:
    node = encode_node([Link(Cid(RAW, sha256(b"x")), 1, 1)])
    assert decode_node(node) is not None
    store = LocalStore(tmp_path)
    with pytest.raises(AmbiguousObject):
        store.put(node)
    assert not store.has(cid_of(node))
    for honest in (b"", b"{}", b"DMLT" + os.urandom(100), os.urandom(5000)):
        assert decode_node(honest) is None
