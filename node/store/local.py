"""A folder of objects named by their CID: the embedded default store.

Layout ``<root>/<cid[-4:-2]>/<cid[-2:]>/<cid>`` (the tail of a CID is uniformly distributed; its head is the
constant ``bafkrei``). Writes go to a temporary file in the same folder, are fsynced, then renamed: a reader
never sees a half-written object, and concurrent puts of the same object are harmless. Every read re-hashes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from node.store.cid import normalize, to_cid
from node.store.errors import ContentNotFound, DigestMismatch, ObjectTooLarge

CHUNK = 1 << 20


class LocalStore:
    def __init__(self, root: Path, *, max_bytes: int | None = None) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalStore({self.root})"

    def path_of(self, cid: str) -> Path:
        c = normalize(cid)
        return self.root / c[-4:-2] / c[-2:] / c

    def has(self, cid: str) -> bool:
        return self.path_of(cid).is_file()

    def size(self, cid: str) -> int:
        try:
            return self.path_of(cid).stat().st_size
        except FileNotFoundError as err:
            raise ContentNotFound(normalize(cid), str(self.root)) from err

    # ---------------------------------------------------------------------------------------------- writes

    def put(self, data: bytes) -> str:
        return self.put_stream([data])

    def put_file(self, path: Path) -> str:
        with path.open("rb") as f:
            return self.put_stream(_chunks(f))

    def put_stream(self, chunks: Iterable[bytes], expected_cid: str | None = None) -> str:
        """Writes the stream; with ``expected_cid`` refuses (and keeps nothing of) bytes that hash otherwise."""
        with self.incoming() as upload:
            for chunk in chunks:
                upload.write(chunk)
            return upload.commit(expected_cid)

    def incoming(self) -> Incoming:
        """A temporary object being written: ``write`` chunks, then ``commit``; closing without a commit
        removes it."""
        return Incoming(self)

    # ---------------------------------------------------------------------------------------------- reads

    def get(self, cid: str) -> bytes:
        return b"".join(self.iter_verified(cid))

    def iter_verified(self, cid: str) -> Iterator[bytes]:
        """Yields the object's bytes after checking the whole file hashes to ``cid`` (two passes, so that bytes
        that no longer match are never handed out; the second pass is served from the page cache)."""
        expected = normalize(cid)
        self.verify(expected)
        path = self.path_of(expected)
        with path.open("rb") as f:
            yield from _chunks(f)

    def verify(self, cid: str) -> int:
        """Re-hashes the stored object; a corrupt one is moved to ``.corrupt/`` and reported. Returns its size."""
        expected = normalize(cid)
        path = self.path_of(expected)
        h = hashlib.sha256()
        size = 0
        try:
            with path.open("rb") as f:
                for chunk in _chunks(f):
                    h.update(chunk)
                    size += len(chunk)
        except FileNotFoundError as err:
            raise ContentNotFound(expected, str(self.root)) from err
        actual = to_cid(h.digest())
        if actual != expected:
            self._quarantine(path)
            raise DigestMismatch(expected, actual, str(path))
        return size

    def get_to_file(self, cid: str, target: Path) -> int:
        size = 0
        with target.open("wb") as out:
            for chunk in self.iter_verified(cid):
                out.write(chunk)
                size += len(chunk)
        return size

    def _quarantine(self, path: Path) -> None:
        corrupt = self.root / ".corrupt"
        corrupt.mkdir(exist_ok=True)
        with contextlib.suppress(OSError):
            os.replace(path, corrupt / path.name)


class Incoming:
    """One upload in progress: hashed and size-capped as it is written, invisible until committed."""

    def __init__(self, store: LocalStore) -> None:
        self._store = store
        tmp_dir = store.root / ".incoming"
        tmp_dir.mkdir(exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp_dir)
        self._file = os.fdopen(fd, "wb")
        self._path = Path(name)
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        limit = self._store.max_bytes
        if limit is not None and self.size > limit:
            raise ObjectTooLarge(self.size, limit)
        self._hash.update(chunk)
        self._file.write(chunk)

    def commit(self, expected_cid: str | None = None) -> str:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        cid = to_cid(self._hash.digest())
        if expected_cid is not None and cid != normalize(expected_cid):
            raise DigestMismatch(normalize(expected_cid), cid)
        final = self._store.path_of(cid)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._path, final)  # atomic; a concurrent identical put just replaces equal bytes
        _fsync_dir(final.parent)
        return cid

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()

    def __enter__(self) -> Incoming:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _chunks(f: BinaryIO) -> Iterator[bytes]:
    while chunk := f.read(CHUNK):
        yield chunk


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
