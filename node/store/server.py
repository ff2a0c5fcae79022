"""The HTTP store server (``dml store serve``): objects by CID over ``/ipfs/{cid}``.

- ``PUT``: the body is streamed to disk while hashed; bytes that do not hash to the CID in the path are refused
  (422) and nothing is kept; above the size cap, 413. Writes may require a bearer token.
- ``GET``/``HEAD``: ETag = CID, immutable caching; the object is re-hashed before a byte is sent, and one that no
  longer matches is quarantined and answered 404, so clients fall through to another replica.
- Bodies stream in 1 MiB chunks both ways: memory stays flat whatever the object size.
"""

from __future__ import annotations

import hmac
import logging
from typing import Annotated

from fastapi import FastAPI, Header, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from pydantic import BaseModel

from node.store.cid import normalize
from node.store.errors import ContentNotFound, DigestMismatch, InvalidCid, ObjectTooLarge
from node.store.local import LocalStore

log = logging.getLogger(__name__)

IMMUTABLE = "public, max-age=31536000, immutable"


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


def _cid_or_400(cid: str) -> str:
    try:
        return normalize(cid)
    except InvalidCid as err:
        raise HTTPException(status_code=400, detail=str(err)) from err


def create_app(store: LocalStore, *, write_token: str | None = None) -> FastAPI:
    """The store server over ``store`` (its ``max_bytes`` is the upload cap)."""
    app = FastAPI(
        title="dmlnet store",
        version="1",
        description="Content-addressed objects by CIDv1 (raw, sha2-256).",
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
    ) -> PutResult:
        authorize(authorization)
        expected = _cid_or_400(cid)
        limit = store.max_bytes
        if limit is not None and content_length is not None and content_length > limit:
            metrics.requests.labels("PUT", "too_large").inc()
            raise HTTPException(status_code=413, detail=str(ObjectTooLarge(content_length, limit)))
        existed = store.has(expected)
        with store.incoming() as upload:
            try:
                async for chunk in request.stream():
                    upload.write(chunk)
                stored = await run_in_threadpool(upload.commit, expected)
            except ObjectTooLarge as err:
                metrics.requests.labels("PUT", "too_large").inc()
                raise HTTPException(status_code=413, detail=str(err)) from err
            except DigestMismatch as err:
                metrics.requests.labels("PUT", "digest_mismatch").inc()
                raise HTTPException(status_code=422, detail=str(err)) from err
            size = upload.size
        metrics.requests.labels("PUT", "ok").inc()
        metrics.bytes_in.inc(size)
        if existed:
            response.status_code = 200
        response.headers["ETag"] = f'"{stored}"'
        return PutResult(cid=stored, size=size, created=not existed)

    async def _verified_size(cid: str, method: str) -> int:
        try:
            return await run_in_threadpool(store.verify, cid)
        except ContentNotFound as err:
            metrics.requests.labels(method, "not_found").inc()
            raise HTTPException(status_code=404, detail=str(err)) from err
        except DigestMismatch as err:
            metrics.corrupt.inc()
            metrics.requests.labels(method, "corrupt").inc()
            log.error("corrupt object quarantined", extra={"cid": cid, "error": str(err)})
            raise HTTPException(status_code=404, detail=f"{cid} not found (the stored copy was corrupt)") from err

    @app.get(
        "/ipfs/{cid}",
        response_class=StreamingResponse,
        responses={
            200: {"content": {"application/octet-stream": {}}},
            400: {"description": "not a CID"},
            404: {"description": "not found"},
        },
    )
    async def get_object(cid: str, if_none_match: Annotated[str | None, Header()] = None) -> Response:
        wanted = _cid_or_400(cid)
        etag = f'"{wanted}"'
        if if_none_match is not None and if_none_match.strip() in (etag, wanted) and store.has(wanted):
            return Response(status_code=304, headers={"ETag": etag, "Cache-Control": IMMUTABLE})
        size = await _verified_size(wanted, "GET")
        metrics.requests.labels("GET", "ok").inc()
        metrics.bytes_out.inc(size)
        path = store.path_of(wanted)

        def body() -> object:
            with path.open("rb") as f:
                while chunk := f.read(1 << 20):
                    yield chunk

        return StreamingResponse(
            body(),  # type: ignore[arg-type]
            media_type="application/octet-stream",
            headers={"ETag": etag, "Cache-Control": IMMUTABLE, "Content-Length": str(size)},
        )

    @app.head("/ipfs/{cid}", responses={404: {"description": "not found"}})
    async def head_object(cid: str) -> Response:
        wanted = _cid_or_400(cid)
        try:
            size = store.size(wanted)
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
