"""Content addresses: CIDs as IPFS writes them, and the 32-byte digest the chain stores.

An object is stored as UnixFS (``node.store.unixfs``): one raw block when it fits one chunk, otherwise raw
leaves under dag-pb nodes. Its CID is CIDv1 of its root block: ``bafkrei…`` (codec raw) or ``bafybei…`` (codec
dag-pb), multihash sha2-256. The chain stores that multihash's 32-byte digest (``bytes32``); which codec it names
follows from the root block itself (``node.store.unixfs.root_codec``), so a digest identifies one object.

Parsed: CIDv1 in base32 (``b…``), base58btc (``z…``) or base36 (``k…``), CIDv0 (``Qm…``), and a 64-digit hex
digest. Only sha2-256 multihashes are accepted: every byte must be checkable.
"""

from __future__ import annotations

from node.store.multiformats import DAG_PB, RAW, Cid, parse, sha256
from node.store.unixfs import encode_bytes

__all__ = [
    "DAG_PB",
    "RAW",
    "Cid",
    "cid_of",
    "digest_of",
    "normalize",
    "parse",
    "same_object",
    "sha256",
    "to_cid",
    "to_digest",
]


# --------------------------------------------------------------------------------------------- the chain's form


def digest_of(data: bytes) -> bytes:
    """The digest the chain stores for an object: its root block's sha2-256."""
    return encode_bytes(data).root.digest


def cid_of(data: bytes) -> str:
    """The object's CID, the one IPFS computes (UnixFS, raw leaves, CIDv1, 1 MiB chunks)."""
    return str(encode_bytes(data).root)


def to_cid(digest: bytes) -> str:
    """The address of the root block named by a digest the chain stored: CIDv1, codec raw. Every reader resolves it
    to the object (a dag-pb root is recognised by its block); ``StoreClient.cid_for`` gives the object's own CID."""
    return str(Cid(RAW, bytes(digest)))


def to_digest(text: str) -> bytes:
    """The 32-byte digest of any accepted CID text or hex digest."""
    return parse(text).digest


def normalize(text: str) -> str:
    """The block address (CIDv1, raw codec) of any accepted form: the key objects are stored under."""
    return to_cid(to_digest(text))


def same_object(a: str, b: str) -> bool:
    return to_digest(a) == to_digest(b)
