"""The owner's side of split training over HTTP: the step protocol, served to each unit's claimant only.

``POST /split/v1/{task}/{round}/{unit}/{step}/{kind}`` with the message (safetensors) as the body and the
claimant's signature (:mod:`node.protocol.step_auth`) in ``X-Dmlnet-Signature``: ``activations`` (empty body)
answers the stem's activations, ``output`` the gradient at the middle's output, ``gradient`` nothing (204), and
once every step is answered ``commitment`` (empty body, at step = the unit's steps) the owner's signed traffic
heads as JSON. The owner keeps one private copy of its layers per unit (:class:`node.ml.split_unit.OwnerUnit`);
the activations of step 0 start the unit over (a claimant that restarted trains it again from its start). A
request from anyone but the unit's claimant is refused (403) before anything is computed, a message out of order
is 409, a malformed one (shape, NaN, a pickle) 400, an oversized one 413.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from node.errors import SpecError
from node.ml.split_unit import OwnerUnit
from node.ml.split_wire import MESSAGE_LIMITS
from node.protocol.step_auth import SIGNATURE_HEADER, Binding, StepRequest, signer_of
from node.store.errors import ArtifactError

KINDS = ("activations", "output", "gradient", "commitment")


class Commitment(BaseModel):
    """The owner's answer once a unit's steps are done: what the miner puts in its trail manifest."""

    heads: list[str]  # hex, the traffic's head at each checkpoint after the first
    segment_losses: list[float]
    signature: str  # the task owner's, over the heads (node.protocol.step_auth.TrafficCommitment)


class UnitSource(Protocol):
    def __call__(self, task_id: int, round_: int, unit: int, claimant: str) -> OwnerUnit | None:
        """The owner's side of the unit when ``claimant`` holds its claim (read from the chain), else None."""
        ...


class UnitFinisher(Protocol):
    def __call__(self, task_id: int, round_: int, unit: int, claimant: str, owner: OwnerUnit) -> Commitment:
        """Keeps the unit's private layers (on disk, before anything is signed) and signs its traffic."""
        ...


def create_owner_app(binding: Binding, open_unit: UnitSource, finish_unit: UnitFinisher | None = None) -> FastAPI:
    app = FastAPI(title="dmlnet owner (split training)", version="1", docs_url=None, redoc_url=None)
    units: dict[tuple[int, int, int, str], OwnerUnit] = {}
    locks: dict[tuple[int, int, int, str], threading.Lock] = {}
    guard = threading.Lock()

    def unit_for(
        task: int, round_: int, unit: int, claimant: str, *, restart: bool
    ) -> tuple[OwnerUnit, threading.Lock]:
        key = (task, round_, unit, claimant.lower())
        with guard:
            if key not in units or restart:
                opened = open_unit(task, round_, unit, claimant)
                if opened is None:
                    raise HTTPException(403, f"{claimant} does not hold unit {unit} of round {round_} of task {task}")
                units[key] = opened
                locks[key] = threading.Lock()
            return units[key], locks[key]

    @app.post("/split/v1/{task}/{round_}/{unit}/{step}/{kind}")
    async def step_message(task: int, round_: int, unit: int, step: int, kind: str, request: Request) -> Response:
        if kind not in KINDS:
            raise HTTPException(404, f"no message kind {kind!r}: one of {', '.join(KINDS)}")
        declared = int(request.headers.get("content-length") or 0)
        if declared > MESSAGE_LIMITS.max_bytes:
            raise HTTPException(413, f"a message of {declared} bytes, above {MESSAGE_LIMITS.max_bytes}")
        body = await request.body()
        if len(body) > MESSAGE_LIMITS.max_bytes:
            raise HTTPException(413, f"a message of {len(body)} bytes, above {MESSAGE_LIMITS.max_bytes}")
        signed = StepRequest(binding.chain_id, binding.contract, task, round_, unit, step, kind)
        claimant = signer_of(signed, body, request.headers.get(SIGNATURE_HEADER, ""))
        if claimant is None:
            raise HTTPException(403, f"no valid {SIGNATURE_HEADER}")
        # Chain reads and torch run in the thread pool: units of different claimants are answered side by side
        # (one unit's messages one at a time, under its lock), and the event loop keeps accepting requests.
        restart = kind == "activations" and step == 0
        owner, lock = await run_in_threadpool(unit_for, task, round_, unit, claimant, restart=restart)
        if kind == "commitment":
            if finish_unit is None or not owner.done:
                raise HTTPException(409, f"the unit is at step {owner.step}: no commitment before its last step")

            def finish() -> Commitment:
                with lock:
                    return finish_unit(task, round_, unit, claimant, owner)

            return JSONResponse((await run_in_threadpool(finish)).model_dump())
        answer = await run_in_threadpool(_answer, owner, lock, kind, step, body)
        if answer is None:
            return Response(status_code=204)
        return Response(content=answer, media_type="application/octet-stream")

    return app


def _answer(owner: OwnerUnit, lock: threading.Lock, kind: str, step: int, body: bytes) -> bytes | None:
    handlers: dict[str, Callable[[], bytes | None]] = {
        "activations": lambda: owner.activations(step),
        "output": lambda: owner.output(step, body),
        "gradient": lambda: owner.gradient(step, body),
    }
    with lock:  # one unit's messages are answered one at a time, in order
        try:
            return handlers[kind]()
        except ArtifactError as err:  # the message itself: its shape, NaN, a pickle
            raise HTTPException(400, str(err)) from err
        except SpecError as err:  # its place: out of order, past the last step
            raise HTTPException(409, str(err)) from err
