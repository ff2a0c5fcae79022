"""Content addresses: the SHA-256 digest (``bytes32`` on chain) and its CIDv1 text form.

A CIDv1 for a raw block is ``b`` + base32-lower-no-padding of ``0x01 0x55 0x12 0x20 <32-byte digest>``
(version 1, codec raw, multihash sha2-256 of length 32), the ``bafkrei…`` strings IPFS prints.
"""

from __future__ import annotations

import base64
import hashlib
import re

from node.store.errors import InvalidCid

_PREFIX = bytes([0x01, 0x55, 0x12, 0x20])
_CID_RE = re.compile(r"^b[a-z2-7]{58}$")
_HEX_RE = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")


def digest_of(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def cid_of(data: bytes) -> str:
    return to_cid(digest_of(data))


def to_cid(digest: bytes) -> str:
    if len(digest) != 32:
        raise InvalidCid(f"a sha2-256 digest is 32 bytes, got {len(digest)}")
    encoded = base64.b32encode(_PREFIX + digest).decode().lower().rstrip("=")
    return "b" + encoded


def to_digest(text: str) -> bytes:
    """Accepts a CIDv1 (raw, sha2-256) or a 64-digit hex digest (with or without 0x)."""
    value = text.strip()
    if _HEX_RE.match(value):
        return bytes.fromhex(value.removeprefix("0x"))
    if not _CID_RE.match(value):
        raise InvalidCid(f"{text!r} is not a CIDv1 raw sha2-256 (bafkrei…) nor a 32-byte hex digest")
    raw = base64.b32decode(value[1:].upper() + "=" * (-len(value[1:]) % 8))
    if raw[:4] != _PREFIX or len(raw) != 36:
        raise InvalidCid(f"{text!r} is a CID, but not version 1 / raw codec / sha2-256 of 32 bytes")
    return raw[4:]


def normalize(text: str) -> str:
    """The canonical CID text for any accepted form."""
    return to_cid(to_digest(text))
