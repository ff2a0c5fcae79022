"""The HTTP store server (``dml store serve``): an IPFS trustless gateway, and a place to write objects.

- ``GET``/``HEAD /ipfs/{cid}?format=raw`` (or ``Accept: application/vnd.ipld.raw``): one block;
  ``?format=car`` (or ``Accept: application/vnd.ipld.car``): the object's blocks as a CARv1 in DAG order
  (``dag-scope=block``: the root alone), with the headers of the trustless-gateway spec; without a format: the
  object's bytes. Any sha2-256 CID is accepted (v0 or v1, raw or dag-pb); blocks are found by their multihash.
- ``PUT /ipfs/{cid}``: the body (the object's bytes, or a CAR of its blocks) is streamed to disk while encoded and
  hashed; anything that is not the object ``cid`` names is refused (422) and nothing is kept; above the size cap,
  413. ``POST /ipfs/`` (the writable gateway's): the body is an object's bytes, named as they stream in; its CID is
  in the answer and its ``Location``. Writes may require a bearer token.
- Every block is re-hashed before a byte of it is sent; a corrupt one is quarantined and answered 404, so clients
  fall through to another replica. Bodies stream in 1 MiB blocks both ways: memory stays flat whatever the size.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Annotated, TypeVar

from fastapi import FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from pydantic import BaseModel

from node.store import car, dag
from node.store.errors import AmbiguousObject, ContentNotFound, DigestMismatch, InvalidCar, InvalidCid, ObjectTooLarge
from node.store.local import LocalStore
from node.store.multiformats import DAG_PB, RAW, Cid, parse
from node.store.unixfs import CHUNK_SIZE

log = logging.getLogger(__name__)
T = TypeVar("T")

IMMUTABLE = "public, max-age=29030400, immutable"
RAW_BLOCK = "application/vnd.ipld.raw"
CAR_TYPE = "application/vnd.ipld.car; version=1; order=dfs; dups=n"


class PutResult(BaseModel):
    cid: str
    size: int
    created: bool


class Health(BaseModel):
    status: str
    objects_dir: str


class _Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "store_requests", "Requests by method and outcome", ["method", "outcome"], registry=self.registry
        )
        self.bytes_in = Counter("store_bytes_in", "Bytes accepted by PUT", registry=self.registry)
        self.bytes_out = Counter("store_bytes_out", "Bytes served by GET", registry=self.registry)
        self.corrupt = Counter(
            "store_corrupt_objects", "Objects found corrupt on disk and quarantined", registry=self.registry
        )


def _parse_or_400(cid: str) -> Cid:
    try:
        return parse(cid)
    except InvalidCid as err:
        raise HTTPException(status_code=400, detail=str(err)) from err


def _response_kind(fmt: str | None, accept: str | None) -> str:
    """``raw``, ``car`` or ``file``: ``?format=`` first, then the Accept header (the trustless-gateway spec's
    order); any other format is refused."""
    if fmt is not None:
        if fmt in ("raw", "car"):
            return fmt
        raise HTTPException(status_code=400, detail=f"format {fmt!r}: this gateway serves raw and car")
    for item in (accept or "").split(","):
        media = item.split(";")[0].strip()
        if media == RAW_BLOCK:
            return "raw"
        if media == CAR_TYPE:
            return "car"
    return "file"


async def receive_into(body: AsyncIterator[bytes], write: Callable[[bytes], None], *, ahead: int = 4) -> None:
    """Feeds ``body`` to ``write`` one UnixFS chunk at a time on a worker thread while the next bytes come in
    (hashing and writing a block no longer stalls the socket: the sender and this server work at once). The first
    error of ``write`` ends the upload; a cancelled or failed receive waits for the piece being written before
    returning."""
    pending: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=ahead)

    async def consume() -> None:
        while (piece := await pending.get()) is not None:
            await run_in_threadpool(write, piece)

    consumer = asyncio.create_task(consume())

    async def hand_over(piece: bytes | None) -> None:
        putting = asyncio.ensure_future(pending.put(piece))
        await asyncio.wait({putting, consumer}, return_when=asyncio.FIRST_COMPLETED)
        if consumer.done():  # it stops early only on an error of the writer
            putting.cancel()
            consumer.result()

    try:
        parts: list[memoryview] = []
        held = 0
        async for chunk in body:
            view = memoryview(chunk)
            while held + len(view) >= CHUNK_SIZE:  # a whole chunk, joined once: the encoder takes it without a copy
                need = CHUNK_SIZE - held
                parts.append(view[:need])
                await hand_over(b"".join(parts))
                parts, held, view = [], 0, view[need:]
            if view:
                parts.append(view)
                held += len(view)
        if parts:
            await hand_over(b"".join(parts))
        await hand_over(None)
        await consumer
    finally:
        if not consumer.done():
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await consumer


def create_app(store: LocalStore, *, write_token: str | None = None) -> FastAPI:
    """The store server over ``store`` (its ``max_bytes`` is the upload cap)."""
    app = FastAPI(
        title="dmlnet store",
        version="1",
        description="Content-addressed objects by CID: a trustless gateway (raw blocks, CARs) that accepts writes.",
        docs_url=None,  # Swagger's page loads from a CDN: the schema is at /openapi.json
        redoc_url=None,
    )
    metrics = _Metrics()

    def authorize(authorization: str | None) -> None:
        if write_token is None:
            return
        presented = (authorization or "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(presented.encode(), write_token.encode()):
            metrics.requests.labels("PUT", "unauthorized").inc()
            raise HTTPException(
                status_code=401, detail="a bearer token is required to write", headers={"WWW-Authenticate": "Bearer"}
            )

    def _stored(response: Response, stored: str, size: int, existed: bool) -> PutResult:
        metrics.requests.labels("PUT", "ok").inc()
        metrics.bytes_in.inc(size)
        if existed:
            response.status_code = 200
        response.headers["ETag"] = f'"{stored}"'
        return PutResult(cid=stored, size=size, created=not existed)

    def _refuse_announced_oversize(content_length: int | None) -> None:
        limit = store.max_bytes
        if limit is not None and content_length is not None and content_length > limit:
            metrics.requests.labels("PUT", "too_large").inc()
            raise HTTPException(status_code=413, detail=str(ObjectTooLarge(content_length, limit)))

    async def _receive(request: Request, expected: str | None) -> tuple[str, int, bool]:
        """The body's bytes stored as an object (with ``expected``: refused unless they are that one); its CID,
        size, and whether the store held it already."""
        with store.incoming() as upload:
            try:
                await receive_into(request.stream(), upload.write)
                stored = await run_in_threadpool(upload.commit, expected)
            except ObjectTooLarge as err:
                metrics.requests.labels("PUT", "too_large").inc()
                raise HTTPException(status_code=413, detail=str(err)) from err
            except (DigestMismatch, AmbiguousObject) as err:
                metrics.requests.labels("PUT", "digest_mismatch").inc()
                raise HTTPException(status_code=422, detail=str(err)) from err
            return stored, upload.size, upload.existed

    async def _put_car(expected: str, request: Request, response: Response, existed: bool) -> PutResult:
        with tempfile.SpooledTemporaryFile(max_size=CHUNK_SIZE, dir=str(store.root)) as spool:
            async for chunk in request.stream():
                spool.write(chunk)
            spool.seek(0)
            try:
                stored = await run_in_threadpool(store.import_car, spool, expected)  # type: ignore[arg-type]
            except ObjectTooLarge as err:
                metrics.requests.labels("PUT", "too_large").inc()
                raise HTTPException(status_code=413, detail=str(err)) from err
            except InvalidCar as err:
                metrics.requests.labels("PUT", "digest_mismatch").inc()
                raise HTTPException(status_code=422, detail=str(err)) from err
        return _stored(response, stored, await run_in_threadpool(store.size, stored), existed)

    @app.put(
        "/ipfs/{cid}",
        response_model=PutResult,
        status_code=201,
        responses={
            400: {"description": "not a CID"},
            401: {"description": "token required"},
            413: {"description": "too large"},
            422: {"description": "bytes do not hash to the CID"},
        },
    )
    async def put_object(
        cid: str,
        request: Request,
        response: Response,
        authorization: Annotated[str | None, Header()] = None,
        content_length: Annotated[int | None, Header()] = None,
        content_type: Annotated[str | None, Header()] = None,
    ) -> PutResult:
        """Stores an object: the body is its bytes, or a CARv1 of its blocks (``Content-Type:
        application/vnd.ipld.car``); refused unless it is the object ``cid`` names."""
        authorize(authorization)
        expected = str(_parse_or_400(cid))
        _refuse_announced_oversize(content_length)
        if (content_type or "").split(";")[0].strip() == car.CONTENT_TYPE:  # the media type, whatever its parameters
            return await _put_car(expected, request, response, store.has(expected))
        return _stored(response, *await _receive(request, expected))

    @app.post(
        "/ipfs/",
        response_model=PutResult,
        status_code=201,
        responses={
            401: {"description": "token required"},
            413: {"description": "too large"},
            422: {"description": "bytes that no object may be (see AmbiguousObject)"},
        },
    )
    async def post_object(
        request: Request,
        response: Response,
        authorization: Annotated[str | None, Header()] = None,
        content_length: Annotated[int | None, Header()] = None,
    ) -> PutResult:
        """Stores the body as an object and names it as it streams in (the writable gateway's ``POST /ipfs/``):
        its CID in the answer, ``Location`` and ``Ipfs-Hash``."""
        authorize(authorization)
        _refuse_announced_oversize(content_length)
        stored, size, existed = await _receive(request, None)
        response.headers["Location"] = f"/ipfs/{stored}"
        response.headers["Ipfs-Hash"] = stored
        return _stored(response, stored, size, existed)

    async def _checked(method: str, cid: str, read: Callable[[], T]) -> T:
        """``read`` in a worker thread; a missing or corrupt (now quarantined) object is answered 404."""
        try:
            return await run_in_threadpool(read)
        except ContentNotFound as err:
            metrics.requests.labels(method, "not_found").inc()
            raise HTTPException(status_code=404, detail=str(err)) from err
        except DigestMismatch as err:
            metrics.corrupt.inc()
            metrics.requests.labels(method, "corrupt").inc()
            log.error("corrupt object quarantined", extra={"cid": cid, "error": str(err)})
            raise HTTPException(status_code=404, detail=f"{cid} not found (the stored copy was corrupt)") from err

    async def _verified_size(cid: str, method: str) -> int:
        return await _checked(method, cid, lambda: store.verify(cid))

    async def _block(cid: Cid, method: str) -> bytes:
        return await _checked(method, str(cid), lambda: store.block(cid))

    async def _respond(cid_text: str, method: str, fmt: str | None, accept: str | None, scope: str) -> Response:
        wanted = _parse_or_400(cid_text)
        kind = _response_kind(fmt, accept)
        name = str(wanted)
        common = {
            "Cache-Control": IMMUTABLE,
            "X-Ipfs-Path": f"/ipfs/{name}",
            "X-Ipfs-Roots": name,
            "Vary": "Accept",
            "X-Content-Type-Options": "nosniff",
        }
        if kind == "raw":
            block = await _block(wanted, method)
            metrics.requests.labels(method, "ok").inc()
            headers = {
                **common,
                "ETag": f'"{name}.raw"',
                "Content-Disposition": f'attachment; filename="{name}.bin"',
                "Content-Length": str(len(block)),
            }
            if method == "HEAD":
                return Response(status_code=200, headers=headers, media_type=RAW_BLOCK)
            metrics.bytes_out.inc(len(block))
            return Response(block, headers=headers, media_type=RAW_BLOCK)
        if kind == "car":
            root_block = await _block(wanted, method)
            root = Cid(DAG_PB if dag.root_node(wanted, root_block) is not None else RAW, wanted.digest)
            # Streamed without a first pass: every block is re-hashed as it is read, a corrupt one (quarantined) ends
            # the CAR early, and the reader, which checks every block too, takes the rest from another replica.
            metrics.requests.labels(method, "ok").inc()
            headers = {
                **common,
                "ETag": f'"{name}.car.{scope}"',
                "Content-Disposition": f'attachment; filename="{name}.car"',
            }
            if method == "HEAD":
                return Response(status_code=200, headers=headers, media_type=CAR_TYPE)
            blocks = store.iter_blocks(root) if scope == "all" else iter([(root, root_block)])

            def body() -> Iterator[bytes]:
                for piece in car.iter_car(root, blocks):
                    metrics.bytes_out.inc(len(piece))
                    yield piece

            return StreamingResponse(body(), headers=headers, media_type=CAR_TYPE)
        size = await _verified_size(str(wanted), method)
        metrics.requests.labels(method, "ok").inc()
        headers = {**common, "ETag": f'"{name}"', "Content-Length": str(size)}
        if method == "HEAD":
            return Response(status_code=200, headers=headers, media_type="application/octet-stream")
        metrics.bytes_out.inc(size)
        return StreamingResponse(store.iter_verified(wanted), media_type="application/octet-stream", headers=headers)

    @app.get(
        "/ipfs/{cid}",
        response_class=StreamingResponse,
        responses={
            200: {"content": {"application/octet-stream": {}, RAW_BLOCK: {}, CAR_TYPE: {}}},
            400: {"description": "not a CID, or a format this gateway does not serve"},
            404: {"description": "not found"},
        },
    )
    async def get_object(
        cid: str,
        format: str | None = None,
        dag_scope: Annotated[str, Query(alias="dag-scope")] = "all",
        accept: Annotated[str | None, Header()] = None,
        if_none_match: Annotated[str | None, Header()] = None,
    ) -> Response:
        """The object (``?format=`` absent), one block (``?format=raw`` or ``Accept: application/vnd.ipld.raw``)
        or the object's blocks as a CARv1 in DAG order (``?format=car`` or ``Accept: application/vnd.ipld.car``;
        ``dag-scope=block`` for its root block alone)."""
        wanted = _parse_or_400(cid)
        if dag_scope not in ("all", "entity", "block"):
            raise HTTPException(status_code=400, detail=f"dag-scope {dag_scope!r}: all, entity or block")
        scope = "block" if dag_scope == "block" else "all"
        kind = _response_kind(format, accept)
        etag = {"raw": f'"{wanted}.raw"', "car": f'"{wanted}.car.{scope}"', "file": f'"{wanted}"'}[kind]
        if if_none_match is not None and if_none_match.strip() in (etag, str(wanted)) and store.has(wanted):
            return Response(status_code=304, headers={"ETag": etag, "Cache-Control": IMMUTABLE})
        return await _respond(cid, "GET", format, accept, scope)

    @app.head("/ipfs/{cid}", responses={404: {"description": "not found"}})
    async def head_object(
        cid: str,
        format: str | None = None,
        dag_scope: Annotated[str, Query(alias="dag-scope")] = "all",
        accept: Annotated[str | None, Header()] = None,
    ) -> Response:
        wanted = _parse_or_400(cid)
        kind = _response_kind(format, accept)
        if kind == "file":  # the size from the root block alone, as before: a HEAD does not re-hash the object
            try:
                size = await run_in_threadpool(store.size, wanted)
            except ContentNotFound as err:
                metrics.requests.labels("HEAD", "not_found").inc()
                raise HTTPException(status_code=404, detail=str(err)) from err
            metrics.requests.labels("HEAD", "ok").inc()
            return Response(
                status_code=200,
                headers={
                    "ETag": f'"{wanted}"',
                    "Cache-Control": IMMUTABLE,
                    "Content-Length": str(size),
                    "Content-Type": "application/octet-stream",
                },
            )
        return await _respond(cid, "HEAD", format, accept, "block" if dag_scope == "block" else "all")

    @app.get("/health", response_model=Health)
    async def health() -> Health:
        return Health(status="ok", objects_dir=str(store.root))

    @app.get("/metrics", response_class=Response)
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(InvalidCid)
    async def invalid_cid(_: Request, err: InvalidCid) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": str(err)})

    return app
