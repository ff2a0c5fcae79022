from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from node.errors import SpecError
from node.store.canonical import canonical_bytes, parse_document


class Inner(BaseModel):
    lr: float = Field(gt=0, le=1)


class Doc(BaseModel):
    name: str
    layers: list[Inner]


def test_same_document_same_bytes_whatever_the_key_order() -> None:
    a = canonical_bytes({"b": 1, "a": [1.5, {"z": "é", "y": None}]})
    b = canonical_bytes({"a": [1.5, {"y": None, "z": "é"}], "b": 1})
    assert a == b == '{"a":[1.5,{"y":null,"z":"é"}],"b":1}'.encode()


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_numbers_are_refused_with_their_path(bad: float) -> None:
    with pytest.raises(SpecError, match=r"layers\[1\]\.lr"):
        canonical_bytes({"layers": [{"lr": 0.1}, {"lr": bad}]})


def test_parse_names_the_bad_field() -> None:
    with pytest.raises(SpecError, match=r"layers\.0\.lr: Input should be greater than 0"):
        parse_document(b'{"name":"x","layers":[{"lr":-1}]}', Doc)


def test_parse_refuses_nan_literals_and_bad_utf8() -> None:
    with pytest.raises(SpecError, match="NaN"):
        parse_document(b'{"name":"x","layers":[{"lr":NaN}]}', Doc)
    with pytest.raises(SpecError, match="UTF-8"):
        parse_document(b'{"name":"\xff"}', Doc)
    with pytest.raises(SpecError, match="line 1"):
        parse_document(b'{"name":', Doc)


def test_require_canonical() -> None:
    doc = Doc(name="x", layers=[Inner(lr=0.5)])
    data = canonical_bytes(doc)
    assert parse_document(data, Doc, require_canonical=True) == doc
    with pytest.raises(SpecError, match="canonical"):
        parse_document(b'{"name": "x", "layers": [{"lr": 0.5}]}', Doc, require_canonical=True)
