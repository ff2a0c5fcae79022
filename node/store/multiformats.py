"""CIDs and their encodings (multibase, multicodec, multihash, varints): the parts of the multiformats specs
dmlnet uses. ``node.store.cid`` is what the rest of the code imports.

Parsed: CIDv1 in base32 (``b…``), base58btc (``z…``) or base36 (``k…``), CIDv0 (``Qm…``), and a 64-digit hex
digest. Only sha2-256 multihashes are accepted: every byte must be checkable.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

from node.store.errors import InvalidCid

RAW = 0x55
DAG_PB = 0x70
SHA2_256 = 0x12
_CODECS = {RAW: "raw", DAG_PB: "dag-pb"}
_HEX_RE = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True, slots=True)
class Cid:
    """A sha2-256 CID: ``version`` 0 or 1, ``codec`` raw or dag-pb, the 32-byte ``digest``."""

    codec: int
    digest: bytes
    version: int = 1

    def __post_init__(self) -> None:
        if len(self.digest) != 32:
            raise InvalidCid(f"a sha2-256 digest is 32 bytes, got {len(self.digest)}")
        if self.codec not in _CODECS:
            raise InvalidCid(f"codec 0x{self.codec:x} is not raw nor dag-pb")
        if self.version == 0 and self.codec != DAG_PB:
            raise InvalidCid("a CIDv0 is always dag-pb")

    @property
    def multihash(self) -> bytes:
        return bytes([SHA2_256, 32]) + self.digest

    def to_bytes(self) -> bytes:
        """The binary form (what dag-pb links and CAR sections hold)."""
        if self.version == 0:
            return self.multihash
        return bytes([1]) + _varint(self.codec) + self.multihash

    def v1(self) -> Cid:
        return Cid(self.codec, self.digest)

    def __str__(self) -> str:
        if self.version == 0:
            return _b58encode(self.multihash)
        return "b" + base64.b32encode(self.to_bytes()).decode().lower().rstrip("=")

    @property
    def codec_name(self) -> str:
        return _CODECS[self.codec]


def parse(text: str) -> Cid:
    """A CID from its text (any form listed in the module's doc). A hex digest reads as the raw-codec CIDv1."""
    value = text.strip()
    if _HEX_RE.match(value):
        return Cid(RAW, bytes.fromhex(value.removeprefix("0x")))
    try:
        if len(value) == 46 and value.startswith("Qm"):
            return _from_multihash(_b58decode(value), version=0)
        if value[:1] == "b" and re.fullmatch(r"b[a-z2-7]+", value):
            raw = base64.b32decode(value[1:].upper() + "=" * (-len(value[1:]) % 8))
        elif value[:1] == "z":
            raw = _b58decode(value[1:])
        elif value[:1] == "k" and re.fullmatch(r"k[0-9a-z]+", value):
            raw = _b36decode(value[1:])
        else:
            raise InvalidCid(f"{text!r} is not a CID (bafy…, bafk…, Qm…) nor a 32-byte hex digest")
        cid, used = from_bytes(raw)
    except (ValueError, IndexError) as err:
        raise InvalidCid(f"{text!r} is not a well-formed CID: {err}") from err
    if used != len(raw):
        raise InvalidCid(f"{text!r} has {len(raw) - used} bytes after its CID")
    return cid


def from_bytes(data: bytes, offset: int = 0) -> tuple[Cid, int]:
    """The binary CID at ``offset`` and the number of bytes it takes."""
    if data[offset : offset + 2] == bytes([SHA2_256, 32]):
        return _from_multihash(data[offset : offset + 34], version=0), 34
    version, at = read_varint(data, offset)
    if version != 1:
        raise InvalidCid(f"CID version {version} is not supported")
    codec, at = read_varint(data, at)
    if codec not in _CODECS:
        raise InvalidCid(f"codec 0x{codec:x} is not raw nor dag-pb")
    cid = _from_multihash(data[at : at + 34], version=1, codec=codec)
    return cid, at + 34 - offset


def _from_multihash(mh: bytes, *, version: int, codec: int = DAG_PB) -> Cid:
    if len(mh) < 2 or mh[0] != SHA2_256:
        raise InvalidCid("only sha2-256 multihashes are accepted (every byte must be checkable)")
    if mh[1] != 32 or len(mh) != 34:
        raise InvalidCid("a sha2-256 multihash holds 32 bytes")
    return Cid(codec, mh[2:], version)


# --------------------------------------------------------------------------------------------- encodings


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def varint(value: int) -> bytes:
    if value < 0:
        raise ValueError("a varint is unsigned")
    return _varint(value)


def read_varint(data: bytes | memoryview, offset: int) -> tuple[int, int]:
    """The unsigned LEB128 value at ``offset`` and the offset after it (at most 9 bytes, minimal form)."""
    value = shift = 0
    at = offset
    while True:
        if at >= len(data):
            raise ValueError("truncated varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if byte == 0 and at - offset > 1:
                raise ValueError("varint not in minimal form")
            return value, at
        shift += 7
        if shift >= 63:
            raise ValueError("varint too long")


def _b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = _B58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def _b58decode(text: str) -> bytes:
    return _decode_base(text, _B58)


def _b36decode(text: str) -> bytes:
    return _decode_base(text, _B36)


def _decode_base(text: str, alphabet: str) -> bytes:
    """Big-endian digits of ``alphabet``; each leading zero digit is a leading zero byte (multibase's rule)."""
    n = 0
    for ch in text:
        n = n * len(alphabet) + alphabet.index(ch)
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * (len(text) - len(text.lstrip(alphabet[0]))) + body
