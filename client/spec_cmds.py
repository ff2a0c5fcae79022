"""``dml spec init|schema|check``: writing a task spec without reading the source, and the one loader of a spec
file (JSON or YAML) that ``dml task submit`` uses."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from client.datasets import DATASET_HELP
from client.options import XColumnOpt, YColumnOpt, cli_app
from node.errors import ConfigError, SpecError

if TYPE_CHECKING:
    from node.ml.spec import TaskSpec

spec_app = cli_app("Task specs: a commented example, the schema, a check.")


def template() -> str:
    """The commented example spec (the built-in digits MLP)."""
    return resources.files("client").joinpath("templates/task-spec.yaml").read_text()


def load_spec(path: Path) -> TaskSpec:
    """A task spec from a ``.json``, ``.yaml`` or ``.yml`` file; errors name the file and each bad field."""
    from node.ml.spec_check import parse_spec, spec_from

    try:
        data = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"cannot read the spec {path}: {err.strerror}") from err
    if path.suffix.lower() == ".json":
        return parse_spec(data)
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise ConfigError(f"spec {path}: use a .json, .yaml or .yml file")
    import yaml

    try:
        raw = yaml.safe_load(data)
    except yaml.YAMLError as err:
        raise SpecError(f"spec {path} is not valid YAML: {err}") from err
    return spec_from(raw)


@spec_app.command("init")
def spec_init(
    out: Annotated[Path, typer.Argument(help="where to write the example")] = Path("task-spec.yaml"),
    force: Annotated[bool, typer.Option(help="overwrite an existing file")] = False,
) -> None:
    """Write a commented example spec (the built-in digits MLP) to edit and submit."""
    if out.exists() and not force:
        raise ConfigError(f"{out} exists: pass --force to overwrite it")
    out.write_text(template())
    typer.echo(f"wrote {out}; submit it with `dml task submit --spec {out} --dataset digits`")


@spec_app.command("schema")
def spec_schema() -> None:
    """Print the JSON schema of a task spec (every field, type and bound)."""
    from node.ml import spec as sp

    typer.echo(json.dumps(sp.TaskSpec.model_json_schema(), indent=2))


@spec_app.command("check")
def spec_check(
    spec: Annotated[Path, typer.Argument(help="spec file (.json, .yaml)")],
    dataset: Annotated[str, typer.Option(help=DATASET_HELP)] = "digits",
    x_column: XColumnOpt = "image",
    y_column: YColumnOpt = "label",
) -> None:
    """Validate a spec and check its model against a dataset, without uploading or sending anything."""
    from client.datasets import context_of, load_dataset
    from node.ml.model import check_against_dataset, footprint

    task_spec = load_spec(spec)
    data = load_dataset(dataset, x_column=x_column, y_column=y_column, context=context_of(task_spec)).train
    check_against_dataset(
        task_spec.model, data.sample_shape, task_spec.training.loss, data.num_classes, tokens=data.tokens
    )
    size = footprint(task_spec.model)
    kind = f"token ids below {data.num_classes}" if data.tokens else f"{data.num_classes} classes"
    typer.echo(
        f"{spec}: valid; {task_spec.dataset.shards} units per round, {task_spec.training.local_steps} steps each, "
        f"{size.parameters:,} parameters ({task_spec.family}, tolerance {task_spec.tolerance:g}); "
        f"fits {dataset} ({len(data)} samples of shape {data.sample_shape}, {kind})"
    )


@spec_app.command("calibrate")
def spec_calibrate(
    spec: Annotated[Path, typer.Argument(help="spec file (.json, .yaml)")],
    dataset: Annotated[str, typer.Option(help=DATASET_HELP)] = "digits",
    units: Annotated[int, typer.Option(min=1, max=100, help="units to train and measure, each on its own shard")] = 1,
    threads: Annotated[
        int | None, typer.Option(min=2, max=256, help="threads the units train at (default: every core, at least 2)")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="one JSON document on stdout")] = False,
    x_column: XColumnOpt = "image",
    y_column: YColumnOpt = "label",
) -> None:
    """Measure, on this machine, how far an honest segment re-executed another way lands (1 thread against many,
    the fast kernels, another device when present) and how far the cheapest cheats land (a skipped step, bf16, half
    the batch, a stale gradient, a lower learning rate), and propose the tolerance between them."""
    from client.datasets import context_of, load_dataset
    from node.ml.calibrate import calibrate
    from node.ml.material import split_for
    from node.ml.model import build_module, state_of

    task_spec = load_spec(spec)
    corpus = load_dataset(dataset, x_column=x_column, y_column=y_column, context=context_of(task_spec))
    parts = split_for(task_spec, corpus)
    found = calibrate(task_spec, state_of(build_module(task_spec.model)), parts.shards, units=units, threads=threads)
    current = task_spec.tolerance
    if json_out:
        typer.echo(json.dumps({"spec": str(spec), "family": task_spec.family, **found.as_json()}, indent=2))
    else:
        typer.echo(f"{spec}: {task_spec.family}, {found.segments} segments measured ({found.hardware})")
        for name, distances in found.honest.items():
            typer.echo(f"  honest, {name:22s} largest distance {max(distances, default=0.0):.3g}")
        for name, distances in found.cheats.items():
            typer.echo(f"  cheat,  {name:22s} smallest distance {min(distances, default=float('inf')):.3g}")
        for note in found.notes:
            typer.echo(f"  note: {note}")
        over, under = found.margins()
        typer.echo(
            f"proposed tolerance {found.proposed:.2g} ({over:.0f}× the largest honest distance, {under:.0f}× under the "
            f"closest cheat); the spec's is {current:g}"
        )
    if not found.separates:
        raise SpecError(
            f"{spec}: no tolerance separates honest work from the cheats on this machine (largest honest distance "
            f"{found.worst_honest:.3g} ≥ closest cheat {found.closest_cheat:.3g}): its segments do not verify across "
            "machines; use fewer steps per checkpoint, SGD, or a model without parameters the loss does not see"
        )
    if found.false_rejects(current) or not found.cheats_rejected(current):
        wrong = "reject honest segments" if found.false_rejects(current) else "accept a cheat"
        raise SpecError(
            f"{spec}: its tolerance {current:g} would {wrong} on this machine: set verification.tolerance to "
            f"{found.proposed:.2g}"
        )
