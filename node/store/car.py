"""CARv1 (https://ipld.io/specs/transport/car/carv1/): a varint-prefixed dag-cbor header ``{roots, version: 1}``,
then one section per block: varint(length) CID bytes, block bytes. Written in DAG order (depth first, parents
before children), as the trustless-gateway spec's ``order=dfs``; read with every block checked against its CID."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import BinaryIO

from node.store.dag import checked
from node.store.errors import DigestMismatch, InvalidCar, InvalidCid
from node.store.multiformats import SHA2_256, Cid, from_bytes, read_varint, varint

MAX_HEADER = 1 << 16
MAX_SECTION = 4 << 20  # a block (Helia and Kubo refuse over 2 MiB; legacy dmlnet objects went to 1 MiB) + its CID
CONTENT_TYPE = "application/vnd.ipld.car"
CIDV0_PREFIX = bytes([SHA2_256, 32])
CIDV0_SIZE, CIDV1_SIZE = 34, 36


def header(roots: list[Cid]) -> bytes:
    """The varint-prefixed dag-cbor header (map keys in dag-cbor's order: shorter first)."""
    body = bytearray(b"\xa2" + _text("roots") + _head(4, len(roots)))
    for root in roots:
        link = b"\x00" + root.to_bytes()  # tag 42: a CID as bytes behind the identity multibase prefix
        body += b"\xd8\x2a" + _head(2, len(link)) + link
    body += _text("version") + b"\x01"
    return varint(len(body)) + bytes(body)


def section_head(cid: Cid, block_size: int) -> bytes:
    """A section's bytes before its block: varint(length) and the CID."""
    raw = cid.to_bytes()
    return varint(len(raw) + block_size) + raw


def section(cid: Cid, block: bytes) -> bytes:
    return section_head(cid, len(block)) + block


def iter_car(root: Cid, blocks: Iterable[tuple[Cid, bytes]]) -> Iterator[bytes]:
    """The CAR's bytes in pieces: the header, then each section's head and its block as they are (no copy)."""
    yield header([root])
    for cid, block in blocks:
        yield section_head(cid, len(block))
        yield block


def read_car(f: BinaryIO, *, check: bool = True) -> tuple[list[Cid], Iterator[tuple[Cid, bytes]]]:
    """The header's roots and an iterator over the blocks, each checked against its CID (``check=False``: the
    caller checks each one, with ``checked_section``, e.g. on another thread)."""
    length = _read_varint(f, "header")
    if length is None or length > MAX_HEADER:
        raise InvalidCar("not a CAR: no header")
    roots = _parse_header(_read_exact(f, length, "header"))
    return roots, _sections(f, check)


def checked_section(cid: Cid, block: bytes) -> tuple[Cid, bytes]:
    try:
        return cid, checked(cid, block, "the CAR")
    except DigestMismatch as err:
        raise InvalidCar(str(err)) from err


def _sections(f: BinaryIO, check: bool) -> Iterator[tuple[Cid, bytes]]:
    while (length := _read_varint(f, "section")) is not None:
        if length > MAX_SECTION:
            raise InvalidCar(f"a CAR section of {length} bytes (at most {MAX_SECTION})")
        cid, used = _read_cid(f, length)
        block = _read_exact(f, length - used, "section")  # read apart from its CID: the block is not copied out
        yield checked_section(cid, block) if check else (cid, block)


def _read_cid(f: BinaryIO, length: int) -> tuple[Cid, int]:
    """The section's CID, read by itself: a sha2-256 CID is 34 bytes (v0) or 36 (v1: the accepted codecs, raw and
    dag-pb, take one varint byte each)."""
    head = _read_exact(f, min(2, length), "section")
    size = CIDV0_SIZE if head == CIDV0_PREFIX else CIDV1_SIZE
    head += _read_exact(f, min(size, length) - len(head), "section")
    try:
        cid, used = from_bytes(head)
    except (InvalidCid, ValueError, IndexError) as err:
        raise InvalidCar(f"a CAR section with an unusable CID: {err}") from err
    if used != len(head):
        raise InvalidCar(f"a CAR section's CID of {used} bytes (sha2-256 CIDs take {size})")
    return cid, used


def _read_varint(f: BinaryIO, what: str) -> int | None:
    raw = bytearray()
    while True:
        byte = f.read(1)
        if not byte:
            if raw:
                raise InvalidCar(f"a CAR truncated in a {what}'s length")
            return None
        raw += byte
        if not byte[0] & 0x80:
            try:
                return read_varint(bytes(raw), 0)[0]
            except ValueError as err:
                raise InvalidCar(f"a CAR {what} length: {err}") from err
        if len(raw) > 9:
            raise InvalidCar(f"a CAR {what} length over 9 bytes")


def _read_exact(f: BinaryIO, n: int, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise InvalidCar(f"a CAR truncated in a {what} ({len(data)} of {n} bytes)")
    return data


# ---------------------------------------------------------------------------------------------- dag-cbor (header)


def _head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([major << 5 | n])
    for extra, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | extra]) + n.to_bytes(size, "big")
    raise ValueError("too large")


def _text(s: str) -> bytes:
    raw = s.encode()
    return _head(3, len(raw)) + raw


def _parse_header(data: bytes) -> list[Cid]:
    try:
        value, used = _cbor(data, 0)
    except (ValueError, IndexError, InvalidCid) as err:
        raise InvalidCar(f"a CAR header that is not dag-cbor: {err}") from err
    if used != len(data) or not isinstance(value, dict):
        raise InvalidCar("a CAR header that is not one map")
    if value.get("version") != 1:
        raise InvalidCar(f"CAR version {value.get('version')!r}: only CARv1 is read")
    roots = value.get("roots")
    if not isinstance(roots, list) or not all(isinstance(r, Cid) for r in roots):
        raise InvalidCar("a CAR header without a list of root CIDs")
    return roots


def _cbor(data: bytes, at: int) -> tuple[object, int]:
    """The small part of CBOR a CAR header uses: unsigned ints, text, byte strings, arrays, maps, tag 42."""
    major, info = data[at] >> 5, data[at] & 31
    at += 1
    if info < 24:
        n = info
    elif info <= 27:
        size = 1 << (info - 24)
        n = int.from_bytes(data[at : at + size], "big")
        at += size
    else:
        raise ValueError("indefinite lengths are not dag-cbor")
    if major == 0:
        return n, at
    if major in (2, 3):
        raw = data[at : at + n]
        if len(raw) != n:
            raise ValueError("truncated string")
        return (raw.decode() if major == 3 else bytes(raw)), at + n
    if major == 4:
        items = []
        for _ in range(n):
            item, at = _cbor(data, at)
            items.append(item)
        return items, at
    if major == 5:
        out: dict[object, object] = {}
        for _ in range(n):
            key, at = _cbor(data, at)
            out[key], at = _cbor(data, at)
        return out, at
    if major == 6 and n == 42:
        tagged, at = _cbor(data, at)
        if not isinstance(tagged, bytes) or tagged[:1] != b"\x00":
            raise ValueError("tag 42 without a CID")
        cid, used = from_bytes(tagged[1:])
        if used != len(tagged) - 1:
            raise ValueError("bytes after a CID")
        return cid, at
    raise ValueError(f"CBOR major type {major} is not in a CAR header")
