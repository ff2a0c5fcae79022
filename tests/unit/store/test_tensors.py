"""The bad-input corpus: every file here is refused with a typed error, and nothing in it ever runs."""

from __future__ import annotations

import itertools
import json
import pickle
import struct
import zipfile
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest

from node.store.errors import ArtifactError, UnsafeArtifact
from node.store.tensors import TensorLimits, TensorSpec, load_tensors, save_tensors

CANARY = Path("/tmp/dmlnet-pickle-canary")


class Payload:
    """Unpickling this would create the canary file."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (Path(CANARY).touch, ())  # type: ignore[return-value]


def _good() -> bytes:
    return save_tensors({"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.zeros(3, np.float32)})


def test_round_trip_with_expected_specs() -> None:
    tensors = load_tensors(_good(), expected={"w": TensorSpec((2, 3), "float32"), "b": TensorSpec((3,), "float32")})
    assert tensors["w"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert save_tensors(tensors) == _good(), "deterministic bytes"


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_pickle_with_reduce_payload_is_refused_unread(protocol: int) -> None:
    CANARY.unlink(missing_ok=True)
    data = pickle.dumps({"w": Payload()}, protocol=protocol)
    with pytest.raises(UnsafeArtifact, match="pickle"):
        load_tensors(data)
    assert not CANARY.exists(), "the pickle payload ran"


def test_torch_zip_archive_is_refused() -> None:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps(Payload()))
    with pytest.raises(UnsafeArtifact, match="zip"):
        load_tensors(buffer.getvalue())
    assert not CANARY.exists()


def _with_header(header: dict[str, object], body: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + body


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "shorter than"),
        (b"\x01\x02", "shorter than"),
        (_good()[:-5], "past the end"),
        (_good()[:20], "truncated"),
        (struct.pack("<Q", 2**40) + b"{}", "above the limit"),
        (struct.pack("<Q", 4) + b"nope", "not valid JSON"),
        (
            _with_header({"w": {"dtype": "F32", "shape": [10**9, 10**9], "data_offsets": [0, 16]}}, b"\0" * 16),
            "bytes for shape",
        ),
        (_with_header({"w": {"dtype": "BF16", "shape": [1], "data_offsets": [0, 2]}}, b"\0" * 2), "dtype"),
        (_with_header({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4), "shape"),
        (_with_header({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}, b"\0" * 4), "data_offsets"),
        (
            _with_header(
                {
                    "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                    "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
                },
                b"\0" * 12,
            ),
            "overlap",
        ),
        (_with_header(["not", "an", "object"]), "not a JSON object"),  # type: ignore[arg-type]
    ],
)
def test_malformed_safetensors_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(ArtifactError, match=message):
        load_tensors(data)


def test_caps_on_bytes_and_tensor_count() -> None:
    with pytest.raises(ArtifactError, match="exceeds the limit"):
        load_tensors(_good(), limits=TensorLimits(max_bytes=10))
    with pytest.raises(ArtifactError, match="above the limit of 1"):
        load_tensors(_good(), limits=TensorLimits(max_tensors=1))


def test_wrong_names_shapes_and_dtypes() -> None:
    with pytest.raises(ArtifactError, match="missing"):
        load_tensors(_good(), expected={"w": TensorSpec((2, 3), "float32")})
    with pytest.raises(ArtifactError, match="shape"):
        load_tensors(_good(), expected={"w": TensorSpec((3, 2), "float32"), "b": TensorSpec((3,), "float32")})
    with pytest.raises(ArtifactError, match="dtype"):
        load_tensors(_good(), expected={"w": TensorSpec((2, 3), "float64"), "b": TensorSpec((3,), "float32")})


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_are_refused(bad: float) -> None:
    data = save_tensors({"w": np.array([1.0, bad], dtype=np.float32)})
    with pytest.raises(ArtifactError, match="NaN or Inf"):
        load_tensors(data)
    assert not np.isfinite(load_tensors(data, allow_non_finite=True)["w"]).all()


@pytest.mark.parametrize("header_len", [0x280, 0x380, 0x480, 0x580])
def test_a_safetensors_header_whose_length_reads_like_a_pickle_mark_is_accepted(header_len: int) -> None:
    # Its first two bytes are 80 02…80 05, a pickle's protocol mark: seen with a digits CNN's optimizer state.
    found = None
    for count, n in itertools.product(range(1, 40), range(1, 64)):
        tensors = {f"{i:02d}" + "w" * n: np.ones(2, np.float32) for i in range(count)}
        data = save_tensors(tensors)
        if struct.unpack("<Q", data[:8])[0] == header_len:
            found = tensors, data
            break
    assert found is not None, f"no set of names gives a header of {header_len} bytes"
    tensors, data = found
    assert data[0] == 0x80
    assert 2 <= data[1] <= 5
    assert set(load_tensors(data)) == set(tensors)
