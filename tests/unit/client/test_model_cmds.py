from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from node.ml.defaults import digits_spec
from node.ml.model import build_module, state_of, state_to_bytes
from node.store.canonical import canonical_bytes

README = Path(__file__).resolve().parents[3] / "README.md"


def test_the_readme_snippet_loads_a_downloaded_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snippet = re.search(r"```python\n(.*?)```", README.read_text(), re.S)
    assert snippet is not None, "README shows how to load a model"
    spec = digits_spec(dataset_digest="0x" + "00" * 32)
    trained = state_of(build_module(spec.model, seed=5))
    (tmp_path / "task-spec.json").write_bytes(canonical_bytes(spec))
    (tmp_path / "model.safetensors").write_bytes(state_to_bytes(trained))
    monkeypatch.chdir(tmp_path)
    scope: dict[str, object] = {}
    exec(snippet.group(1), scope)  # the README's own lines
    module = scope["module"]
    assert isinstance(module, torch.nn.Sequential)
    assert all(torch.equal(module.state_dict()[k], v) for k, v in trained.items())
