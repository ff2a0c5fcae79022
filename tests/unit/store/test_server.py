"""The server's upload pipe (receive_into): what the socket delivers reaches the writer whole and in order, one
UnixFS chunk at a time, and the writer's first error ends the upload without waiting for the rest of the body."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest

from node.store.errors import ObjectTooLarge
from node.store.server import receive_into
from node.store.unixfs import CHUNK_SIZE


async def _body(data: bytes, step: int, delivered: list[int]) -> AsyncIterator[bytes]:
    for at in range(0, len(data), step):
        delivered.append(at)
        yield data[at : at + step]
        await asyncio.sleep(0)


@pytest.mark.parametrize("step", [65_536, 100_003, 3 * CHUNK_SIZE + 1])
@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, 3 * CHUNK_SIZE + 5])
def test_every_byte_reaches_the_writer_in_order_in_whole_chunks(size: int, step: int) -> None:
    data = os.urandom(size)
    pieces: list[bytes] = []
    asyncio.run(receive_into(_body(data, step, []), pieces.append))
    assert b"".join(pieces) == data
    assert all(len(p) == CHUNK_SIZE for p in pieces[:-1]), "one chunk at a time, whatever the socket delivers"
    assert all(type(p) is bytes for p in pieces), "the encoder's no-copy path takes bytes"


def test_the_writers_error_ends_the_upload_early() -> None:
    data = os.urandom(40 * CHUNK_SIZE)
    delivered: list[int] = []
    written: list[int] = []

    def write(piece: bytes) -> None:
        written.append(len(piece))
        if len(written) == 2:
            raise ObjectTooLarge(2 * CHUNK_SIZE, CHUNK_SIZE)

    with pytest.raises(ObjectTooLarge):
        asyncio.run(receive_into(_body(data, 65_536, delivered), write, ahead=2))
    assert len(written) == 2, "nothing is written after the error"
    assert len(delivered) * 65_536 < len(data) // 2, "the rest of the body is not waited for"
