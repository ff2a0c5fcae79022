"""``dml spec init|schema|check``: writing a task spec without reading the source, and the one loader of a spec
file (JSON or YAML) that ``dml task submit`` uses."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from client.datasets import DATASET_HELP
from client.options import XColumnOpt, YColumnOpt
from node.errors import ConfigError, SpecError

if TYPE_CHECKING:
    from node.ml.spec import TaskSpec

spec_app = typer.Typer(help="Task specs: a commented example, the schema, a check.", no_args_is_help=True)


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
    from client.datasets import load_dataset
    from node.ml.model import check_against_dataset

    task_spec = load_spec(spec)
    data = load_dataset(dataset, x_column=x_column, y_column=y_column).train
    check_against_dataset(task_spec.model, data.sample_shape, task_spec.training.loss, data.num_classes)
    typer.echo(
        f"{spec}: valid; {task_spec.dataset.shards} units per round, {task_spec.training.local_steps} steps each, "
        f"fits {dataset} ({len(data)} samples of shape {data.sample_shape}, {data.num_classes} classes)"
    )
