"""``dml model eval``: how good a model is, whether it is a task's final model or a file, on a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from client.datasets import DATASET_HELP
from client.options import JsonOpt, cli_app, connected
from client.session import NO_FLAGS, Connection
from node.errors import ConfigError

model_app = cli_app("Trained models: evaluate one.")


@model_app.command("eval")
@connected()
def model_eval(
    model: Annotated[str, typer.Argument(help="a task id (its final model) or a .safetensors file")],
    dataset: Annotated[
        str, typer.Option(help=f"{DATASET_HELP}: its test split when it has one (default: the task's held-out part)")
    ] = "",
    spec: Annotated[Path | None, typer.Option(help="the model's spec (.json/.yaml; default: the task's)")] = None,
    as_json: JsonOpt = False,
    connection: Connection = NO_FLAGS,
) -> None:
    """Accuracy and loss of a model. With a task id: its final model, on the task's held-out split unless
    --dataset is given. With a file: --spec says what it is, and --dataset what to evaluate it on (its test split
    when it has one, else all of it)."""
    from client.datasets import context_of, load_dataset
    from client.session import open_session, require_task
    from client.spec_cmds import load_spec
    from node.ml.evaluate import evaluate
    from node.ml.model import build_module, state_from_bytes, tensor_specs
    from node.protocol.material import material_of
    from node.store.cid import to_cid

    if model.isdigit():
        session = open_session(connection, sign=False)
        task_id = int(model)
        require_task(session.market, task_id)
        task = session.market.get_task(task_id)
        if task.state.final_model_digest == b"\0" * 32:
            raise ConfigError(f"task {task_id} has no final model yet (status {task.state.status.name.lower()})")
        material = material_of(task, session.store.get)
        task_spec = load_spec(spec) if spec is not None else material.spec
        raw = session.store.get(to_cid(task.state.final_model_digest))
        data, where = (
            (load_dataset(dataset, context=context_of(task_spec)).evaluation, dataset)
            if dataset
            else (material.test_set(), "the held-out split")
        )
    else:
        path = Path(model)
        if not path.is_file():
            raise ConfigError(f"{model}: neither a task id nor a model file")
        if spec is None or not dataset:
            raise ConfigError("a model file needs --spec (what the model is) and --dataset (what to evaluate on)")
        task_spec, raw = load_spec(spec), path.read_bytes()
        data, where = load_dataset(dataset, context=context_of(task_spec)).evaluation, dataset
    state = state_from_bytes(raw, tensor_specs(build_module(task_spec.model)))  # refuses wrong shapes, NaN, caps
    result = evaluate(task_spec.model, state, data)
    if as_json:
        from client.json_out import emit

        figures = {"accuracy": result.accuracy} if result.kind == "classification" else {}
        if result.kind == "language":
            figures["perplexity"] = result.perplexity
        emit({"model": model, "kind": result.kind, "loss": result.loss, **figures, "samples": result.samples,
              "evaluated_on": where})  # fmt: skip
        return
    if result.kind == "classification":
        typer.echo(f"accuracy {result.accuracy:.4f}, loss {result.loss:.4f} on {result.samples} samples of {where}")
    else:
        typer.echo(f"{result.summary()} on {result.samples} samples of {where}")
