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
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from node.ml.model import state_from_bytes, state_to_bytes, tensor_specs_of
from node.store import tensors as tensors_module
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


# Every dtype the store accepts, by its numpy name (the store's own table: a dtype added there joins this test).
STORABLE = sorted({np.dtype(name).name for name, _ in tensors_module._DTYPES.values()})


@st.composite
def _arrays(draw: st.DrawFn) -> dict[str, np.ndarray]:
    """0–4 tensors (none: a plain SGD optimizer's state), each of rank 0–4 (dimensions of 0–3, zero-size
    included) and any storable dtype."""
    out: dict[str, np.ndarray] = {}
    for i in range(draw(st.integers(0, 4))):
        dtype = np.dtype(draw(st.sampled_from(STORABLE)))
        shape = tuple(draw(st.lists(st.integers(0, 3), min_size=0, max_size=4)))
        elements = (
            st.floats(-1e3, 1e3, width=8 * dtype.itemsize)
            if dtype.kind == "f"
            else st.booleans()
            if dtype.kind == "b"
            else st.integers(int(np.iinfo(dtype).min), int(np.iinfo(dtype).max))
        )
        out[f"t{i}"] = draw(hnp.arrays(dtype, shape, elements=elements))
    return out


@settings(max_examples=300, deadline=None)
@given(_arrays())
def test_every_rank_and_dtype_round_trips_exactly(arrays: dict[str, np.ndarray]) -> None:
    data = save_tensors(arrays)
    expected = {k: TensorSpec(v.shape, v.dtype.name) for k, v in arrays.items()}
    back = load_tensors(data, expected=expected)  # shapes and dtypes checked as a verifier checks them
    for name, array in arrays.items():
        assert back[name].shape == array.shape, name
        assert back[name].dtype == array.dtype, name
        assert np.array_equal(back[name], array), name
    assert save_tensors(back) == data, "the same bytes again"


@pytest.mark.parametrize("rank", range(5))
def test_a_torch_state_keeps_every_shape_through_the_store(rank: int) -> None:
    """What the nodes publish: a torch state (an optimizer's 0-d step counter, a batch norm's counter)."""
    state = {
        "step": torch.zeros((), dtype=torch.int64) + 7,
        "w": torch.arange(2**rank, dtype=torch.float32).reshape((2,) * rank),
        "count": torch.tensor(3, dtype=torch.int64).reshape((1,) * rank),
    }
    back = state_from_bytes(state_to_bytes(state), tensor_specs_of(state))
    assert {k: (tuple(v.shape), v.dtype) for k, v in back.items()} == {
        k: (tuple(v.shape), v.dtype) for k, v in state.items()
    }


def test_a_transposed_or_strided_array_is_written_as_its_values() -> None:
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    for view in (base.T, base[:, ::2], base[::-1]):
        back = load_tensors(save_tensors({"v": view}))["v"]
        assert back.shape == view.shape
        assert np.array_equal(back, view)
