"""Objects as UnixFS files, the layout IPFS uses: the CID of every object is the one IPFS computes.

Layout (IPFS's ``unixfs-v1-2025`` profile: Helia's ``addBytes`` defaults, ``ipfs-car pack``, Kubo's ``ipfs add
--cid-version 1 --raw-leaves --chunker size-1048576`` with ``Import.UnixFSFileMaxLinks`` 1024): fixed chunks of
1 MiB stored as raw blocks; an object of one chunk (or empty) is that raw block; a longer one is a balanced tree of
dag-pb UnixFS ``File`` nodes of at most 1,024 links (leaves grouped 1,024 at a time, then the groups' nodes, until
one node is left). Every node records its children's sizes, so a reader checks each block's hash and each
subtree's length before it hands out a byte.

The chain stores the root block's digest. The codec it names follows from that block (``root_codec``): a block that
is a well-formed dag-pb UnixFS file node with links is a dag-pb root, anything else is a raw object. A one-chunk
object whose bytes would read as such a node is refused on write (``AmbiguousObject``): no honest object is one, and
then a digest names exactly one object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from node.store.errors import AmbiguousObject, InvalidBlock
from node.store.multiformats import DAG_PB, RAW, Cid, from_bytes, read_varint, sha256, varint

CHUNK_SIZE = 1 << 20
MAX_LINKS = 1024
MAX_DEPTH = 8
_FILE = 2
_RAW = 0

Emit = Callable[[Cid, bytes], None]


@dataclass(frozen=True, slots=True)
class Link:
    """A child of a file node: its CID, its DAG size (``Tsize``) and the file bytes under it."""

    cid: Cid
    tsize: int
    filesize: int


@dataclass(frozen=True, slots=True)
class FileNode:
    """A decoded dag-pb UnixFS file node: inline ``data`` first, then each link's bytes in order."""

    links: tuple[Link, ...]
    data: bytes
    filesize: int


@dataclass(frozen=True, slots=True)
class Encoded:
    root: Cid
    size: int
    blocks: int


# --------------------------------------------------------------------------------------------- encoding


@dataclass
class Builder:
    """Streams bytes into UnixFS blocks: ``write`` any pieces, then ``finish``. ``emit`` receives every block
    (leaves in file order, each node after its children: the root last). Holds one chunk and one link per
    group of 1,024 chunks."""

    emit: Emit
    chunk_size: int = CHUNK_SIZE
    max_links: int = MAX_LINKS
    _buffer: bytearray = field(default_factory=bytearray)
    _leaves: list[Link] = field(default_factory=list)
    _groups: list[Link] = field(default_factory=list)
    _first: tuple[Cid, bytes] | None = None
    _count: int = 0
    _size: int = 0
    _blocks: int = 0

    def write(self, data: bytes | memoryview) -> None:
        if not self._buffer and isinstance(data, bytes) and len(data) == self.chunk_size:
            self._leaf(data)  # a whole chunk as it came (a file read or a server's piece): no copy
            return
        view = memoryview(data)
        while view:
            room = self.chunk_size - len(self._buffer)
            if not self._buffer and len(view) >= room:
                self._leaf(bytes(view[:room]))  # one copy, not one into the buffer and one out of it
            else:
                self._buffer += view[:room]
                if len(self._buffer) == self.chunk_size:
                    self._leaf(bytes(self._buffer))
                    self._buffer.clear()
            view = view[room:]

    def _leaf(self, chunk: bytes) -> None:
        cid = Cid(RAW, sha256(chunk))
        self._count += 1
        self._size += len(chunk)
        if self._count == 1:  # kept back: a lone chunk is the object itself
            self._first = (cid, chunk)
            return
        if self._first is not None:
            self._add_leaf(*self._first)
            self._first = None
        self._add_leaf(cid, chunk)

    def _add_leaf(self, cid: Cid, chunk: bytes) -> None:
        self._put(cid, chunk)
        if chunk:
            self._leaves.append(Link(cid, len(chunk), len(chunk)))
        if len(self._leaves) == self.max_links:
            self._groups.append(self._node(self._leaves))
            self._leaves = []

    def _put(self, cid: Cid, block: bytes) -> None:
        self._blocks += 1
        self.emit(cid, block)

    def _node(self, links: list[Link]) -> Link:
        block = encode_node(links)
        cid = Cid(DAG_PB, sha256(block))
        self._put(cid, block)
        return Link(cid, len(block) + sum(x.tsize for x in links), sum(x.filesize for x in links))

    def finish(self) -> Encoded:
        if self._buffer or self._count == 0:
            self._leaf(bytes(self._buffer))
            self._buffer.clear()
        if self._first is not None:  # one chunk (or none): a raw block, as IPFS reduces a single leaf
            cid, chunk = self._first
            self._put(cid, chunk)
            return Encoded(cid, self._size, self._blocks)
        if self._leaves:
            self._groups.append(self._node(self._leaves))
            self._leaves = []
        level = self._groups
        while len(level) > 1:
            step = self.max_links
            level = [self._node(level[i : i + step]) for i in range(0, len(level), step)]
        return Encoded(level[0].cid, self._size, self._blocks)


def encode_bytes(data: bytes, emit: Emit | None = None) -> Encoded:
    builder = Builder(emit or (lambda _cid, _block: None))
    builder.write(data)
    return builder.finish()


def encode_stream(chunks: Iterable[bytes], emit: Emit | None = None) -> Encoded:
    builder = Builder(emit or (lambda _cid, _block: None))
    for chunk in chunks:
        builder.write(chunk)
    return builder.finish()


def encode_node(links: list[Link]) -> bytes:
    """A dag-pb node (links first, as dag-pb's canonical form orders them) holding UnixFS ``File`` data."""
    out = bytearray()
    for link in links:
        cid = link.cid.to_bytes()
        body = b"\x0a" + varint(len(cid)) + cid + b"\x12\x00" + b"\x18" + varint(link.tsize)
        out += b"\x12" + varint(len(body)) + body
    unixfs = bytearray(b"\x08" + varint(_FILE) + b"\x18" + varint(sum(x.filesize for x in links)))
    for link in links:
        unixfs += b"\x20" + varint(link.filesize)
    out += b"\x0a" + varint(len(unixfs)) + unixfs
    return bytes(out)


def check_unambiguous(first_chunk: bytes, size: int) -> None:
    """Refuses a one-chunk object that would read as a dag-pb root (see the module's doc)."""
    if size <= CHUNK_SIZE and decode_node(first_chunk) is not None:
        raise AmbiguousObject(
            "this object's bytes form a UnixFS file node: stored as a raw block, its digest would name another object"
        )


# --------------------------------------------------------------------------------------------- decoding


def root_codec(block: bytes) -> int:
    """The codec a digest the chain stored names, from its root block."""
    return DAG_PB if decode_node(block) is not None else RAW


def decode_node(block: bytes) -> FileNode | None:
    """The UnixFS file node in ``block``, or None when it is not a well-formed one with at least one link."""
    try:
        links, data = _pb_node(block)
        if data is None:
            return None
        kind, inline, filesize, blocksizes = _unixfs(data)
    except (ValueError, IndexError):
        return None
    if kind not in (_FILE, _RAW) or not links or len(links) != len(blocksizes):
        return None
    if filesize != len(inline) + sum(blocksizes):
        return None
    return FileNode(
        tuple(Link(cid, tsize, size) for (cid, tsize), size in zip(links, blocksizes, strict=True)),
        inline,
        filesize,
    )


def decode_child(block: bytes) -> FileNode:
    """A dag-pb block under a file: a file node, possibly a leaf with inline data and no links."""
    try:
        links, data = _pb_node(block)
        if data is None:
            raise ValueError("no UnixFS data")
        kind, inline, filesize, blocksizes = _unixfs(data)
    except (ValueError, IndexError) as err:
        raise InvalidBlock(f"not a UnixFS file node: {err}") from err
    if kind not in (_FILE, _RAW) or len(links) != len(blocksizes) or filesize != len(inline) + sum(blocksizes):
        raise InvalidBlock("a UnixFS file node whose sizes do not add up")
    return FileNode(
        tuple(Link(cid, tsize, size) for (cid, tsize), size in zip(links, blocksizes, strict=True)),
        inline,
        filesize,
    )


def _fields(buf: bytes | memoryview) -> Iterator[tuple[int, int, int, memoryview]]:
    """(field number, wire type, varint value, bytes value) of a protobuf message; varints and length-delimited
    fields only."""
    view = memoryview(buf)
    at = 0
    while at < len(view):
        key, at = read_varint(view, at)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ValueError("field number 0")
        if wire == 0:
            value, at = read_varint(view, at)
            yield number, wire, value, view[0:0]
        elif wire == 2:
            length, at = read_varint(view, at)
            if at + length > len(view):
                raise ValueError("truncated field")
            yield number, wire, 0, view[at : at + length]
            at += length
        else:
            raise ValueError(f"wire type {wire}")


def _pb_node(block: bytes) -> tuple[list[tuple[Cid, int]], bytes | None]:
    links: list[tuple[Cid, int]] = []
    data: bytes | None = None
    for number, wire, _, body in _fields(block):
        if number == 2 and wire == 2 and data is None:
            links.append(_pb_link(body))
        elif number == 1 and wire == 2 and data is None:
            data = bytes(body)
        else:
            raise ValueError(f"unexpected field {number}")
    return links, data


def _pb_link(body: memoryview) -> tuple[Cid, int]:
    cid: Cid | None = None
    tsize = 0
    for number, wire, value, piece in _fields(body):
        if number == 1 and wire == 2 and cid is None:
            raw = bytes(piece)
            cid, used = from_bytes(raw)
            if used != len(raw):
                raise ValueError("bytes after a link's CID")
        elif number == 2 and wire == 2:
            pass  # name: file links have none
        elif number == 3 and wire == 0:
            tsize = value
        else:
            raise ValueError(f"unexpected link field {number}")
    if cid is None:
        raise ValueError("a link without a hash")
    return cid, tsize


def _unixfs(data: bytes) -> tuple[int, bytes, int, list[int]]:
    kind = -1
    inline = b""
    filesize: int | None = None
    blocksizes: list[int] = []
    for number, wire, value, piece in _fields(data):
        if number == 1 and wire == 0:
            kind = value
        elif number == 2 and wire == 2:
            inline = bytes(piece)
        elif number == 3 and wire == 0:
            filesize = value
        elif number == 4 and wire == 0:
            blocksizes.append(value)
        elif number in (5, 6, 7, 8):
            pass  # hash type, fanout, mode, mtime: metadata a file's bytes do not depend on
        else:
            raise ValueError(f"unexpected UnixFS field {number}")
    if filesize is None:
        filesize = len(inline) + sum(blocksizes)
    return kind, inline, filesize, blocksizes
