from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from client.cli import app
from client.datasets import context_of, load_dataset
from client.spec_cmds import load_spec, template
from node.errors import ConfigError, SpecError
from node.ml.defaults import digits_spec
from node.ml.model import check_against_dataset
from testkit.matrix import example_cases

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_spec_init_writes_the_built_in_spec_with_comments(tmp_path: Path) -> None:
    out = tmp_path / "task-spec.yaml"
    result = CliRunner().invoke(app, ["spec", "init", str(out)])
    assert result.exit_code == 0, result.output
    assert "#" in out.read_text()
    written = load_spec(out)
    built_in = digits_spec(dataset_digest="0x" + "00" * 32)
    assert written == built_in, "the example is the built-in digits MLP"
    again = CliRunner().invoke(app, ["spec", "init", str(out)])
    assert isinstance(again.exception, ConfigError), "an existing file is not overwritten without --force"


def test_spec_schema_is_the_task_spec_json_schema() -> None:
    result = CliRunner().invoke(app, ["spec", "schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert {"model", "training", "dataset"} <= set(schema["properties"])
    assert set(schema["required"]) >= {"model", "training", "dataset"}


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.*") if p.suffix in (".json", ".yaml")))
def test_every_example_is_valid_and_fits_its_dataset(name: str) -> None:
    """Against the dataset examples/README.md checks it with (the honesty matrix reads the same lines)."""
    case = next(c for c in example_cases() if c.example is not None and c.example.name == name)
    spec = load_spec(EXAMPLES / name)
    source = "synthetic:200" if case.dataset.startswith("synthetic:") else case.dataset
    data = load_dataset(source, context=context_of(spec)).train
    check_against_dataset(spec.model, data.sample_shape, spec.training.loss, data.num_classes, tokens=data.tokens)


def test_load_spec_names_the_bad_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(template().replace("batch_size: 32", "batch_size: 0"))
    with pytest.raises(SpecError, match=r"training\.batch_size"):
        load_spec(bad)
    broken = tmp_path / "broken.yaml"
    broken.write_text("model: [unclosed")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(broken)
    text = tmp_path / "spec.txt"
    text.write_text(template())
    with pytest.raises(ConfigError, match=r"\.json, \.yaml or \.yml"):
        load_spec(text)


def test_task_submit_refuses_units_that_contradict_the_spec(tmp_path: Path) -> None:
    # Refused before any store, chain or key is looked at: nothing exists under this home.
    result = CliRunner().invoke(
        app,
        ["task", "submit", "--spec", str(EXAMPLES / "synthetic-mlp.json"), "--units", "4", "--yes",
         "--home", str(tmp_path / "none")],
    )  # fmt: skip
    assert isinstance(result.exception, ConfigError)
    assert "--units 4 conflicts with the spec's dataset.shards = 2" in str(result.exception)
    assert not (tmp_path / "none").exists()


def test_spec_calibrate_proposes_a_tolerance_between_honest_work_and_the_cheats(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["spec", "calibrate", str(EXAMPLES / "digits-cnn.yaml"), "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["family"] == "cnn/adam"
    assert found["segments"] == 20
    assert found["separates"] is True
    assert found["largest_honest_distance"] < found["proposed_tolerance"] < found["smallest_cheat_distance"]
    assert set(found["closest_cheat"]) == {
        "skip a step",
        "bf16 for fp32",
        "half the batch",
        "stale gradient",
        "lower learning rate",
    }
    # A tolerance that would accept a cheat is refused, naming the value to set.
    loose = tmp_path / "loose.yaml"
    loose.write_text(
        (EXAMPLES / "digits-cnn.yaml")
        .read_text()
        .replace("verification: {segments: 2}", "verification: {segments: 2, tolerance: 0.09}")
    )
    refused = CliRunner().invoke(app, ["spec", "calibrate", str(loose)])
    assert isinstance(refused.exception, SpecError)
    assert "would accept a cheat" in str(refused.exception)
    assert "set verification.tolerance to" in str(refused.exception)
