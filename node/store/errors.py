"""Typed store failures, all under :class:`node.errors.StoreError`."""

from __future__ import annotations

from node.errors import SpecError, StoreError


class InvalidCid(StoreError):
    """Text that is not a CIDv1 raw sha2-256 (``bafkrei…``) or a 32-byte hex digest."""

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


class UnsafeArtifact(SpecError):
    """A file that could execute code when loaded (a pickle, a torch ``.pt`` archive): refused unread."""

    exit_code = 41


class ArtifactError(SpecError):
    """A tensor file that breaks a cap, has the wrong names, shapes or dtypes, or holds NaN/Inf."""

    exit_code = 42
