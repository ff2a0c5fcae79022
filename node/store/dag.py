"""Reading an object's blocks: from its root, each block checked against its CID and each subtree against the size
its parent records, before a byte is handed out. One reader for every place blocks come from (the local folder, a
store server, any trustless gateway): ``fetch`` returns a block already checked against its CID (``checked``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from node.store.errors import DigestMismatch, InvalidBlock, ObjectTooLarge
from node.store.multiformats import DAG_PB, RAW, Cid, sha256
from node.store.unixfs import MAX_DEPTH, FileNode, decode_child, decode_node

Fetch = Callable[[Cid], bytes]


def checked(cid: Cid, block: bytes, where: str = "") -> bytes:
    """``block`` if it hashes to ``cid``, else :class:`DigestMismatch`."""
    actual = sha256(block)
    if actual != cid.digest:
        raise DigestMismatch(str(cid), str(Cid(RAW, actual)), where)
    return block


def root_node(cid: Cid, block: bytes) -> FileNode | None:
    """The file node a root block holds, or None for a raw object. A dag-pb CID must name a file node; a raw one
    (how the chain's digests are written) is a node exactly when its block is one (``unixfs.root_codec``)."""
    if cid.codec == DAG_PB:
        return decode_child(block)
    return decode_node(block)


def object_size(cid: Cid, block: bytes) -> int:
    node = root_node(cid, block)
    return len(block) if node is None else node.filesize


def iter_bytes(cid: Cid, fetch: Fetch, *, max_bytes: int | None = None) -> Iterator[bytes]:
    """The object's bytes in order, each piece from a checked block of a checked tree."""
    for _cid, block, data in _walk(cid, fetch, max_bytes):
        if data:
            yield data
        del block


def iter_blocks(cid: Cid, fetch: Fetch, *, max_bytes: int | None = None) -> Iterator[tuple[Cid, bytes]]:
    """Every block of the object in DAG order (depth first, parents before children): a CAR's order."""
    for block_cid, block, _data in _walk(cid, fetch, max_bytes):
        yield block_cid, block


def _walk(root: Cid, fetch: Fetch, max_bytes: int | None) -> Iterator[tuple[Cid, bytes, bytes]]:
    block = fetch(root)
    node = root_node(root, block)
    if node is None:
        if max_bytes is not None and len(block) > max_bytes:
            raise ObjectTooLarge(len(block), max_bytes)
        yield root, block, block
        return
    if max_bytes is not None and node.filesize > max_bytes:
        raise ObjectTooLarge(node.filesize, max_bytes)
    yield from _file(root, block, node, fetch, 1)


def _file(cid: Cid, block: bytes, node: FileNode, fetch: Fetch, depth: int) -> Iterator[tuple[Cid, bytes, bytes]]:
    yield cid, block, node.data
    for link in node.links:
        child = fetch(link.cid)
        if link.cid.codec == RAW:
            if len(child) != link.filesize:
                raise InvalidBlock(f"{link.cid} holds {len(child)} bytes, its parent {cid} says {link.filesize}")
            yield link.cid, child, child
            continue
        if depth >= MAX_DEPTH:
            raise InvalidBlock(f"{cid}: a file deeper than {MAX_DEPTH} levels")
        sub = decode_child(child)
        if sub.filesize != link.filesize:
            raise InvalidBlock(f"{link.cid} holds {sub.filesize} bytes, its parent {cid} says {link.filesize}")
        yield from _file(link.cid, child, sub, fetch, depth + 1)
