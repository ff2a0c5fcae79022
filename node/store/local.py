"""A folder of blocks named by their CID: the embedded default store, and what a store server serves.

An object is its UnixFS blocks (``node.store.unixfs``): one raw block up to 1 MiB, raw leaves under dag-pb nodes
above. A block lives at ``<root>/<c[-4:-2]>/<c[-2:]>/<c>`` where ``c`` is its CIDv1 with the raw codec (the tail
of a CID is uniformly distributed; its head is the constant ``bafkrei``), whatever its codec: blocks are keyed by
their multihash, as Kubo and Helia key theirs. Objects written before chunking (one block of any size) read as
before. An upload's blocks go to a temporary folder, are fsynced, and are moved in on commit, the root last: a
reader never sees a root without its blocks, and concurrent puts of the same object are harmless. Every read
re-hashes every block.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from node.store import car, dag
from node.store.errors import ContentNotFound, DigestMismatch, InvalidCar, ObjectTooLarge
from node.store.multiformats import RAW, Cid, parse
from node.store.unixfs import CHUNK_SIZE, Builder, check_unambiguous

CHUNK = CHUNK_SIZE


class LocalStore:
    def __init__(self, root: Path, *, max_bytes: int | None = None) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalStore({self.root})"

    def path_of(self, cid: str | Cid) -> Path:
        """Where the block of ``cid`` (any codec) lives."""
        c = str(Cid(RAW, _cid(cid).digest))
        return self.root / c[-4:-2] / c[-2:] / c

    def has(self, cid: str | Cid) -> bool:
        """Holds the object's root block (written last: its blocks are here too)."""
        return self.path_of(cid).is_file()

    def size(self, cid: str | Cid) -> int:
        """The object's size in bytes (the root block says it; nothing else is read)."""
        c = _cid(cid)
        return dag.object_size(c, self.block(c))

    # ---------------------------------------------------------------------------------------------- writes

    def put(self, data: bytes) -> str:
        return self.put_stream([data])

    def put_file(self, path: Path) -> str:
        with path.open("rb") as f:
            return self.put_stream(_chunks(f))

    def put_stream(self, chunks: Iterable[bytes], expected_cid: str | None = None) -> str:
        """Writes the stream; with ``expected_cid`` refuses (and keeps nothing of) bytes that encode otherwise.
        Returns the object's CID (raw or dag-pb, as IPFS names it)."""
        with self.incoming() as upload:
            for chunk in chunks:
                upload.write(chunk)
            return upload.commit(expected_cid)

    def incoming(self) -> Incoming:
        """An object being written: ``write`` chunks, then ``commit``; closing without a commit removes it."""
        return Incoming(self)

    def import_car(self, f: BinaryIO, expected_root: str | None = None) -> str:
        """Adds the object a CAR holds (its only root): every block checked against its CID, the root's whole DAG
        present and consistent, nothing kept otherwise. Returns the root's CID."""
        roots, blocks = car.read_car(f)
        if len(roots) != 1:
            raise InvalidCar(f"a CAR with {len(roots)} roots: one object per CAR")
        root = roots[0]
        if expected_root is not None and _cid(expected_root).digest != root.digest:
            raise InvalidCar(f"the CAR's root is {root}, not {expected_root}")
        with self.incoming() as upload:
            for cid, block in blocks:
                upload.stage(cid, block)
            return upload.commit_dag(root)

    def put_block(self, cid: Cid, block: bytes) -> None:
        """Stores one block (checked against its CID)."""
        dag.checked(cid, block)
        _write_atomically(self.path_of(cid), block)

    # ---------------------------------------------------------------------------------------------- reads

    def block(self, cid: str | Cid) -> bytes:
        """The block of ``cid``, re-hashed; a corrupt one is moved to ``.corrupt/`` and reported."""
        c = _cid(cid)
        path = self.path_of(c)
        try:
            data = path.read_bytes()
        except FileNotFoundError as err:
            raise ContentNotFound(str(c), str(self.root)) from err
        try:
            return dag.checked(c, data, str(path))
        except DigestMismatch:
            self._quarantine(path)
            raise

    def get(self, cid: str | Cid) -> bytes:
        return b"".join(self.iter_verified(cid))

    def iter_verified(self, cid: str | Cid) -> Iterator[bytes]:
        """The object's bytes, every block checked before it is handed out."""
        return dag.iter_bytes(_cid(cid), self.block, max_bytes=None)

    def iter_blocks(self, cid: str | Cid) -> Iterator[tuple[Cid, bytes]]:
        """The object's blocks in DAG order, each checked (a CAR's body)."""
        return dag.iter_blocks(_cid(cid), self.block)

    def verify(self, cid: str | Cid) -> int:
        """Re-hashes every block of the object; returns its size. A corrupt block is quarantined and reported."""
        return sum(len(piece) for piece in self.iter_verified(cid))

    def get_to_file(self, cid: str | Cid, target: Path) -> int:
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
    """One upload in progress: chunked into blocks and size-capped as it is written, invisible until committed."""

    def __init__(self, store: LocalStore) -> None:
        self._store = store
        tmp_dir = store.root / ".incoming"
        tmp_dir.mkdir(exist_ok=True)
        self._dir = Path(tempfile.mkdtemp(dir=tmp_dir))
        self._staged: dict[bytes, Path] = {}
        self._order: list[Cid] = []
        self._builder = Builder(self.stage)
        self._first = b""
        self.size = 0
        self.existed = False  # set by a commit: the store held the object already

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        limit = self._store.max_bytes
        if limit is not None and self.size > limit:
            raise ObjectTooLarge(self.size, limit)
        if len(self._first) < CHUNK_SIZE:
            self._first += chunk[: CHUNK_SIZE - len(self._first)]
        self._builder.write(chunk)

    def stage(self, cid: Cid, block: bytes) -> None:
        if cid.digest in self._staged:
            return
        path = self._dir / str(Cid(RAW, cid.digest))
        with path.open("wb") as f:
            f.write(block)
            f.flush()
            os.fsync(f.fileno())
        self._staged[cid.digest] = path
        self._order.append(cid)

    def commit(self, expected_cid: str | None = None) -> str:
        """Ends the written stream: its blocks move in, the root last. Returns the object's CID."""
        encoded = self._builder.finish()
        check_unambiguous(self._first, encoded.size)
        if expected_cid is not None and _cid(expected_cid).digest != encoded.root.digest:
            raise DigestMismatch(str(_cid(expected_cid)), str(encoded.root))
        self.existed = self._store.has(encoded.root)
        self._move_in(self._order)
        return str(encoded.root)

    def commit_dag(self, root: Cid) -> str:
        """Ends an upload of blocks (a CAR): the root's DAG must be whole among them or already in the store."""

        def fetch(cid: Cid) -> bytes:
            staged = self._staged.get(cid.digest)
            if staged is not None:
                return staged.read_bytes()
            try:
                return self._store.block(cid)
            except ContentNotFound as err:
                raise InvalidCar(f"the CAR lacks block {cid} of {root}") from err

        size = 0
        needed: list[Cid] = []
        for cid, block in dag.iter_blocks(root, fetch):
            size += len(block)
            if self._store.max_bytes is not None and size > self._store.max_bytes:
                raise ObjectTooLarge(size, self._store.max_bytes)
            if cid.digest in self._staged:
                needed.append(cid)
        self.size = dag.object_size(root, fetch(root))
        self._move_in([c for c in needed if c.digest != root.digest] + [root])
        return str(root)

    def _move_in(self, order: list[Cid]) -> None:
        """Moves staged blocks into place; the last of ``order`` (the root) goes last."""
        touched: set[Path] = set()
        for cid in order:
            staged = self._staged.get(cid.digest)
            if staged is None:
                continue
            final = self._store.path_of(cid)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, final)  # atomic; a concurrent identical put just replaces equal bytes
            touched.add(final.parent)
        for folder in touched:
            _fsync_dir(folder)

    def close(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Incoming:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _cid(cid: str | Cid) -> Cid:
    return cid if isinstance(cid, Cid) else parse(cid)


def _chunks(f: BinaryIO) -> Iterator[bytes]:
    while chunk := f.read(CHUNK):
        yield chunk


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=".block-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(name, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
