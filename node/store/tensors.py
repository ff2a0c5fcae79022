"""Tensors as safetensors, loaded defensively.

Nothing is ever unpickled: a pickle or a torch ``.pt`` archive handed in where tensors are expected is refused
from its first bytes, before any of it is interpreted. A safetensors file is checked against caps (total bytes,
header bytes, tensor count) and its header validated by us before the library reads it; then names, shapes and
dtypes are compared with what the caller expects, and NaN/Inf are refused.
"""

from __future__ import annotations

import itertools
import json
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from safetensors.numpy import load as _st_load
from safetensors.numpy import save as _st_save

from node.store.errors import ArtifactError, UnsafeArtifact

# dtypes numpy can hold (BF16 cannot be represented without torch)
_DTYPES: dict[str, tuple[str, int]] = {
    "F16": ("float16", 2),
    "F32": ("float32", 4),
    "F64": ("float64", 8),
    "I8": ("int8", 1),
    "I16": ("int16", 2),
    "I32": ("int32", 4),
    "I64": ("int64", 8),
    "U8": ("uint8", 1),
    "BOOL": ("bool", 1),
}
_NUMPY_TO_ST = {np.dtype(v[0]).name: k for k, v in _DTYPES.items()}


@dataclass(frozen=True, slots=True)
class TensorLimits:
    max_bytes: int = 512 * 1024 * 1024
    max_header_bytes: int = 1024 * 1024
    max_tensors: int = 4096


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """What a caller expects of one tensor."""

    shape: tuple[int, ...]
    dtype: str  # numpy name, e.g. "float32"


DEFAULT_LIMITS = TensorLimits()


def _safetensors_framing(data: bytes) -> bool:
    """Whether the first bytes read as a safetensors header: a length that fits, then a JSON object."""
    if len(data) < 9:
        return False
    (header_len,) = struct.unpack("<Q", data[:8])
    return 0 < header_len <= len(data) - 8 and data[8:9] == b"{"


def refuse_executable_formats(data: bytes) -> None:
    """Raises :class:`UnsafeArtifact` for pickles and zip archives (torch ``.pt``), judged by magic bytes only.
    A safetensors header of 640, 896, 1152 or 1408 bytes starts with the bytes of a pickle's protocol mark
    (``80 02``…``80 05``): what reads as safetensors framing is left to the header's own checks."""
    if len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5 and not _safetensors_framing(data):
        raise UnsafeArtifact("refused a Python pickle: tensors are accepted only as safetensors")
    if data[:4] == b"PK\x03\x04":
        raise UnsafeArtifact("refused a zip archive (a torch .pt file holds pickles): use safetensors")


def inspect_header(data: bytes, limits: TensorLimits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Validates the safetensors framing and header; returns the header (without ``__metadata__``)."""
    refuse_executable_formats(data)
    if len(data) > limits.max_bytes:
        raise ArtifactError(f"tensor file of {len(data)} bytes exceeds the limit of {limits.max_bytes}")
    if len(data) < 8:
        raise ArtifactError("not a safetensors file: shorter than its 8-byte header length")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > limits.max_header_bytes:
        raise ArtifactError(
            f"safetensors header claims {header_len} bytes, above the limit of {limits.max_header_bytes}"
        )
    if 8 + header_len > len(data):
        raise ArtifactError(f"truncated safetensors file: header claims {header_len} bytes, file has {len(data) - 8}")
    try:
        header = json.loads(data[8 : 8 + header_len].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ArtifactError(f"safetensors header is not valid JSON: {err}") from err
    if not isinstance(header, dict):
        raise ArtifactError("safetensors header is not a JSON object")
    header.pop("__metadata__", None)
    if len(header) > limits.max_tensors:
        raise ArtifactError(f"{len(header)} tensors, above the limit of {limits.max_tensors}")
    buffer_len = len(data) - 8 - header_len
    spans: list[tuple[int, int]] = []
    for name, info in header.items():
        if not isinstance(info, dict):
            raise ArtifactError(f"tensor {name!r}: header entry is not an object")
        dtype = info.get("dtype")
        if dtype not in _DTYPES:
            raise ArtifactError(f"tensor {name!r}: dtype {dtype!r} is not one of {sorted(_DTYPES)}")
        shape = info.get("shape")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise ArtifactError(f"tensor {name!r}: shape {shape!r} is not a list of non-negative integers")
        offsets = info.get("data_offsets")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) and o >= 0 for o in offsets)
            or offsets[0] > offsets[1]
        ):
            raise ArtifactError(f"tensor {name!r}: data_offsets {offsets!r} are malformed")
        expected = math.prod(shape) * _DTYPES[dtype][1]
        if offsets[1] - offsets[0] != expected:
            raise ArtifactError(f"tensor {name!r}: {offsets[1] - offsets[0]} bytes for shape {shape} of {dtype}")
        if offsets[1] > buffer_len:
            raise ArtifactError(f"tensor {name!r}: data runs past the end of the file (truncated?)")
        spans.append((offsets[0], offsets[1]))
    spans.sort()
    for (_, end), (start, _) in itertools.pairwise(spans):
        if start < end:
            raise ArtifactError("safetensors tensors overlap")
    return header


def load_tensors(
    data: bytes,
    *,
    expected: Mapping[str, TensorSpec] | None = None,
    limits: TensorLimits = DEFAULT_LIMITS,
    allow_non_finite: bool = False,
) -> dict[str, np.ndarray]:
    """Loads a safetensors document after every check above; ``expected`` names exactly the tensors wanted."""
    header = inspect_header(data, limits)
    if expected is not None:
        missing = sorted(set(expected) - set(header))
        extra = sorted(set(header) - set(expected))
        if missing or extra:
            raise ArtifactError(f"tensor names differ: missing {missing}, unexpected {extra}")
        for name, spec in expected.items():
            info = header[name]
            if tuple(info["shape"]) != tuple(spec.shape):
                raise ArtifactError(f"tensor {name!r}: shape {tuple(info['shape'])}, expected {tuple(spec.shape)}")
            if _DTYPES[info["dtype"]][0] != np.dtype(spec.dtype).name:
                raise ArtifactError(f"tensor {name!r}: dtype {_DTYPES[info['dtype']][0]}, expected {spec.dtype}")
    try:
        tensors = _st_load(data)
    except Exception as err:  # the library's own checks; our header checks make this rare
        raise ArtifactError(f"safetensors refused the file: {err}") from err
    if not allow_non_finite:
        for name, array in tensors.items():
            if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
                raise ArtifactError(f"tensor {name!r} holds NaN or Inf")
    return dict(tensors)


def save_tensors(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None = None) -> bytes:
    """Serializes arrays to safetensors bytes: the same bytes for equal inputs when there is no metadata (the
    library writes metadata in hash-map order, which differs between calls).

    Every tensor keeps its exact shape and dtype, 0-d included (``np.ascontiguousarray`` would make a 0-d array
    1-d: Adam's step counter and a batch norm's counter came back as shape (1,), and every honest unit with one was
    rejected). The header written is checked against the arrays given, so bytes that would not read back as
    written never leave this function."""
    for name, array in tensors.items():
        if array.dtype.name not in _NUMPY_TO_ST:
            raise ArtifactError(f"tensor {name!r}: dtype {array.dtype} cannot be stored")
    arrays = {k: np.require(v, requirements="C") for k, v in tensors.items()}
    # No metadata argument when there is none: safetensors 0.8 writes an empty set of tensors with an empty
    # metadata map as `{},"__metadata__":{}}`, which is not JSON (a plain SGD state is empty: every such unit
    # was refused as malformed).
    data = bytes(_st_save(arrays, metadata=dict(metadata) if metadata else None))
    _check_written(arrays, inspect_header(data, TensorLimits(len(data), len(data), max(len(arrays), 1))))
    return data


def _check_written(arrays: Mapping[str, np.ndarray], header: Mapping[str, Any]) -> None:
    if set(header) != set(arrays):
        raise ArtifactError(f"safetensors wrote tensors {sorted(header)}, given {sorted(arrays)}")
    for name, array in arrays.items():
        info = header[name]
        if tuple(info["shape"]) != array.shape or info["dtype"] != _NUMPY_TO_ST[array.dtype.name]:
            raise ArtifactError(
                f"tensor {name!r} would read back as {info['dtype']} {tuple(info['shape'])}, "
                f"written as {array.dtype} {array.shape}"
            )
