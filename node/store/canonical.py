"""Canonical JSON for specs and manifests: the same document always has the same bytes, hence the same digest.

UTF-8, keys sorted, no insignificant whitespace, no NaN or Infinity. Parsing names the path of the bad field.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, Field, ValidationError

from node.errors import SpecError
from node.store.cid import normalize

M = TypeVar("M", bound=BaseModel)

# An object named in a document: a CIDv1 (raw or dag-pb), held as the block address a chain digest reads as
# (``node.store.cid.normalize``), so that the same object is always the same text in a document and comparisons
# between what a manifest names and what the chain records hold whatever the object's size.
CidText = Annotated[str, Field(pattern=r"^b[a-z2-7]{58}$"), AfterValidator(normalize)]


def _check_finite(value: Any, path: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"{path or '<root>'}: {value} is not allowed in canonical JSON")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise SpecError(f"{path or '<root>'}: key {key!r} is not a string")
            _check_finite(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_finite(item, f"{path}[{i}]")


def canonical_bytes(document: Any) -> bytes:
    """The canonical encoding of a JSON-compatible value (or a pydantic model)."""
    if isinstance(document, BaseModel):
        document = document.model_dump(mode="json")
    _check_finite(document, "")
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _refuse_constant(name: str) -> Any:
    raise SpecError(f"{name} is not allowed in canonical JSON")


def parse_json(data: bytes) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise SpecError(f"not UTF-8 at byte {err.start}") from err
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as err:
        raise SpecError(f"invalid JSON at line {err.lineno} column {err.colno}: {err.msg}") from err


def parse_document(data: bytes, model: type[M], *, require_canonical: bool = False) -> M:
    """Parses and validates a document; errors name each bad field's path and why."""
    raw = parse_json(data)
    try:
        document = model.model_validate(raw)
    except ValidationError as err:
        raise SpecError(describe_validation_error(err, model.__name__)) from err
    if require_canonical and canonical_bytes(raw) != data:
        raise SpecError(f"{model.__name__}: the document is valid but not in canonical form")
    return document


def describe_validation_error(err: ValidationError, what: str) -> str:
    problems = []
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "<root>"
        problems.append(f"{path}: {e['msg']}")
    return f"invalid {what}: " + "; ".join(problems)
