"""Typed store failures, all under :class:`node.errors.StoreError`."""

from __future__ import annotations

import http.client
from collections.abc import Iterator

from node.errors import SpecError, StoreError


class InvalidCid(StoreError):
    """Text that is not a sha2-256 CID (raw or dag-pb, v0 or v1) or a 32-byte hex digest."""

    exit_code = 31


class ContentNotFound(StoreError):
    """No replica holds the object."""

    exit_code = 32

    def __init__(self, cid: str, where: str = "") -> None:
        super().__init__(f"{cid} not found" + (f" at {where}" if where else ""))
        self.cid = cid


class DigestMismatch(StoreError):
    """Bytes that do not hash to the digest they were asked or offered for."""

    exit_code = 33

    def __init__(self, expected: str, actual: str, where: str = "") -> None:
        super().__init__(f"bytes hash to {actual}, expected {expected}" + (f" (from {where})" if where else ""))
        self.expected = expected
        self.actual = actual


class ObjectTooLarge(StoreError):
    """An object above the configured size cap."""

    exit_code = 34

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"object of {size} bytes exceeds the limit of {limit} bytes")
        self.size = size
        self.limit = limit


class StoreUnavailable(StoreError):
    """Every replica failed; the message lists what each one did."""

    exit_code = 35


class StoreUnauthorized(StoreError):
    """The store server refused a write: missing or wrong bearer token."""

    exit_code = 36


class AmbiguousObject(StoreError):
    """A one-chunk object whose bytes would read as a UnixFS file node: its digest would name two objects."""

    exit_code = 37


class InvalidBlock(StoreError):
    """A block that hashes right but is not what its place in a UnixFS file says (bad node, sizes, depth)."""

    exit_code = 38


class InvalidCar(StoreError):
    """A CAR file that is not a CARv1 of sha2-256 blocks, holds a block that does not hash to its CID, or lacks a
    block of its root's DAG."""

    exit_code = 39


class TransientReplicaError(StoreError):
    """A failure worth retrying on the same replica (connection, timeout, 5xx)."""


def exchange(
    conn: http.client.HTTPConnection,
    name: str,
    method: str,
    target: str,
    *,
    body: Iterator[bytes] | None = None,
    headers: dict[str, str] | None = None,
    encode_chunked: bool = False,
) -> tuple[int, bytes]:
    """One request on ``conn`` and its whole answer (status, body); the connection is closed after it. A failure
    of the link is a :class:`TransientReplicaError` naming the replica ``name``."""
    try:
        conn.request(method, target, body=body, headers=headers or {}, encode_chunked=encode_chunked)
        response = conn.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException) as err:
        raise TransientReplicaError(f"{name}: {type(err).__name__}: {err}") from err
    finally:
        conn.close()


def raise_for_status(status: int, body: bytes, cid: str, name: str, size: int = 0) -> None:
    """The error an HTTP answer from a replica means (nothing below 300)."""
    if status < 300:
        return
    if status == 404:
        raise ContentNotFound(cid, name)
    if status == 401:
        raise StoreUnauthorized(f"{name} refused the write: a valid bearer token is required")
    if status == 413:
        raise ObjectTooLarge(size, -1)
    if status >= 500 or status == 429:
        raise TransientReplicaError(f"{name}: HTTP {status}")
    raise StoreError(f"{name}: HTTP {status}: {body[:200].decode(errors='replace')}")


class UnsafeArtifact(SpecError):
    """A file that could execute code when loaded (a pickle, a torch ``.pt`` archive): refused unread."""

    exit_code = 41


class ArtifactError(SpecError):
    """A tensor file that breaks a cap, has the wrong names, shapes or dtypes, or holds NaN/Inf."""

    exit_code = 42
