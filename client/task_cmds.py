"""``dml task submit|list|show|challenge|watch|cancel|download``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from client import interrupt
from client.amounts import parse_amount
from client.datasets import DATASET_HELP, context_of, load_dataset
from client.options import JsonOpt, XColumnOpt, YColumnOpt, cli_app, connected
from client.render import eth
from client.session import NO_FLAGS, Connection, open_session, require_task
from client.task_view import parameters_table, render_progress, watch_task
from node.chain.types import MAX_QUORUM, MAX_ROUNDS, MAX_TIMEOUT_S, TaskStatus, UnitStatus, seats_at
from node.errors import ConfigError, InsufficientFunds, SpecError
from node.store.cid import to_cid

if TYPE_CHECKING:
    pass

# Commands import web3 and torch when they run, not when the CLI starts (see client/cli.py).

console = Console()
task_app = cli_app("Training tasks.")


@task_app.command("submit")
@connected(signs=True)
def task_submit(
    spec: Annotated[
        Path | None,
        typer.Option(
            help="task spec, .json or .yaml (default: the built-in digits MLP, or the small GPT for text; see dml "
            "spec init)"
        ),
    ] = None,
    dataset: Annotated[str, typer.Option(help=f"{DATASET_HELP} | a CID from dml data add")] = "digits",
    x_column: XColumnOpt = "image",
    y_column: YColumnOpt = "label",
    units: Annotated[
        int | None, typer.Option(help="training units per round (= the spec's shards; built-in spec: 4)")
    ] = None,
    rounds: Annotated[int, typer.Option(min=1, max=MAX_ROUNDS, help="rounds of training and aggregation")] = 2,
    quorum: Annotated[int, typer.Option(min=1, max=MAX_QUORUM, help="verifiers per unit (odd)")] = 3,
    local_steps: Annotated[
        int | None, typer.Option(help="steps per unit (built-in spec: 800 digits, 200 text)")
    ] = None,
    miner_reward: Annotated[str, typer.Option(help="per accepted training unit (ETH, or with gwei/wei)")] = "0.1",
    aggregator_reward: Annotated[str, typer.Option(help="per accepted aggregation (ETH)")] = "0.05",
    verifier_reward: Annotated[str, typer.Option(help="per seat voting the final verdict (ETH)")] = "0.01",
    unit_bond: Annotated[str, typer.Option(help="a miner locks per claim (ETH)")] = "0.05",
    vote_bond: Annotated[str, typer.Option(help="a verifier locks per seat, ≥ 4 × verifier reward (ETH)")] = "0.04",
    challenge_window: Annotated[
        int,
        typer.Option(
            min=0, max=MAX_TIMEOUT_S, help="seconds a verdict stays open to challenge before it pays (0: no appeals)"
        ),
    ] = 10,
    initial_model: Annotated[
        Path | None, typer.Option(help="start from this model (.safetensors, the spec's layout) instead of a fresh one")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask before sending")] = False,
    watch: Annotated[bool, typer.Option(help="stay and show progress")] = False,
    connection: Connection = NO_FLAGS,
) -> None:
    """Validate the spec, upload dataset, spec and initial model, escrow the budget, print the task id."""
    from client.spec_cmds import load_spec
    from client.tasks import (
        Economics,
        StoredDataset,
        build_task,
        create_task,
        refuse_what_the_contract_would,
        upload,
    )
    from node.ml.data import Corpus
    from node.ml.defaults import LM_LOCAL_STEPS, digits_spec, lm_spec
    from node.ml.shards import parse_manifest
    from node.store.errors import ContentNotFound

    # Bad input is refused before anything is contacted or spent.
    if spec is not None:
        task_spec = load_spec(spec)
        if units is not None and units != task_spec.dataset.shards:
            raise ConfigError(
                f"--units {units} conflicts with the spec's dataset.shards = {task_spec.dataset.shards} "
                "(the units of a round are the spec's shards): drop --units or edit the spec"
            )
    else:
        try:
            if dataset == "fortunes" or dataset.endswith((".txt", ".bin")):  # text: the built-in language model
                task_spec = lm_spec(dataset_digest="0x" + "00" * 32, shards=4 if units is None else units,
                                    local_steps=LM_LOCAL_STEPS if local_steps is None else local_steps)  # fmt: skip
            else:
                task_spec = digits_spec(
                    dataset_digest="0x" + "00" * 32,
                    shards=4 if units is None else units,
                    local_steps=800 if local_steps is None else local_steps,
                )
        except SpecError as err:  # named by the flag that set the field
            flags = {"dataset.shards": f"--units {units}", "training.local_steps": f"--local-steps {local_steps}"}
            flag = next((f for field, f in flags.items() if field in str(err)), None)
            raise SpecError(f"{flag}: {err}" if flag else str(err)) from err
    economics = Economics(
        rounds=rounds,
        quorum=quorum,
        miner_reward=parse_amount(miner_reward, what="--miner-reward"),
        aggregator_reward=parse_amount(aggregator_reward, what="--aggregator-reward"),
        verifier_reward=parse_amount(verifier_reward, what="--verifier-reward"),
        unit_bond=parse_amount(unit_bond, what="--unit-bond"),
        vote_bond=parse_amount(vote_bond, what="--vote-bond"),
        challenge_window_s=challenge_window,
    )
    session = open_session(connection, sign=True)  # fmt: skip
    data: Corpus | StoredDataset
    if dataset.startswith("bafk"):
        try:
            data = StoredDataset(dataset, parse_manifest(session.store.get(dataset)))
        except ContentNotFound as err:
            raise ConfigError(f"dataset {dataset} is not in the store: add it with `dml data add`") from err
        except SpecError as err:
            raise ConfigError(f"dataset {dataset}: {err}") from err
    else:
        data = load_dataset(dataset, x_column=x_column, y_column=y_column, context=context_of(task_spec))
    start = None
    if initial_model is not None:
        if not initial_model.is_file():
            raise ConfigError(f"--initial-model {initial_model}: no such file")
        start = initial_model.read_bytes()
    # CIDs computed here: nothing is uploaded before the checks below.
    built = build_task(task_spec, data, economics, initial_model=start)
    p = built.prepared.params
    balance = session.market.w3.eth.get_balance(session.market.signer.address)  # type: ignore[arg-type]
    if balance < p.budget:
        raise InsufficientFunds(
            f"the budget needs {eth(p.budget)}, the account holds {eth(balance)}: {eth(p.budget - balance)} missing"
        )
    refuse_what_the_contract_would(session.market, p)
    prepared = built.prepared
    console.print(f"spec {prepared.spec_cid}\ndataset {prepared.dataset_cid}\ninitial model {prepared.model_cid}")
    console.print(f"{p.rounds} rounds × {p.units_per_round} units, quorum {p.quorum}: budget {eth(p.budget)}")
    interrupt.confirm("upload, escrow the budget and create the task?", yes=yes)
    upload(session.store, built)
    task_id = create_task(session.market, prepared)
    console.print(f"task {task_id} created")
    if watch:
        watch_task(session, task_id)


@task_app.command("list")
@connected(store=False)
def task_list(as_json: JsonOpt = False, connection: Connection = NO_FLAGS) -> None:
    """Every task with its status and escrow."""
    from client.json_out import emit, task_row
    from client.session import open_reader

    views = open_reader(connection).views
    tasks = [views.get_task(i) for i in range(1, views.task_count() + 1)]
    if as_json:
        emit({"tasks": [task_row(t) for t in tasks]})
        return
    table = Table("id", "owner", "status", "round", "units", "quorum", "escrow")
    for t in tasks:
        table.add_row(
            str(t.task_id),
            t.state.owner,
            t.state.status.name.lower(),
            f"{t.state.current_round + 1}/{t.params.rounds}",
            str(t.params.units_per_round),
            str(t.params.quorum),
            eth(t.state.escrow),
        )
    console.print(table)


@task_app.command("show")
@connected()
def task_show(
    task_id: int,
    no_accuracy: Annotated[bool, typer.Option("--no-accuracy", help="skip evaluating each round's model")] = False,
    no_why: Annotated[
        bool, typer.Option("--no-why", help="skip re-judging rejected results to say why they were rejected")
    ] = False,
    as_json: JsonOpt = False,
    connection: Connection = NO_FLAGS,
) -> None:
    """A task's owner, parameters, artifacts, money and progress (accuracy per round on the held-out split), and
    why each of its latest rejected results was rejected (re-judged from the chain and the store)."""
    from client.json_out import emit, task_document
    from client.progress import ProgressReader

    session = open_session(connection, sign=False)
    require_task(session.market, task_id)
    progress = ProgressReader(session.market, session.store, task_id, session.deployment.block_number).read(
        evaluate_models=not no_accuracy
    )
    rejections: list[dict[str, Any]] | None = None
    if progress.rejected and not no_why:
        from node.audit.rejections import explain_rejections

        found = explain_rejections(session.market, session.store, task_id, from_block=session.deployment.block_number)
        rejections = [r.as_json() for r in found]
    starved = progress.task.state.status is TaskStatus.ACTIVE and not session.market.can_fill_quorum(task_id)
    if as_json:
        emit({**task_document(progress, rejections if not no_why else None), "quorum_unfillable": starved})
        return
    console.print(parameters_table(progress.task))
    console.print(render_progress(progress))
    if rejections is not None:
        from node.audit.rejections import rejection_rows

        console.print(f"why rejected (the latest {len(rejections)}, each re-executed whole):")
        for round_, unit, miner, votes, outcome, check, why in rejection_rows(rejections)[1:]:
            # One line each, never cut: the reason is the point.
            line = f"  round {round_} unit {unit} by {miner} ({votes}): {outcome} at {check or '–'}: {why}"
            console.print(line, soft_wrap=True, highlight=False, markup=False)
    if starved:
        console.print(
            "warning: the verifier pool holds too little stake for this task's vote bonds: submitted units wait "
            "until more verifiers join"
        )


@task_app.command("challenge")
@connected(signs=True)
def task_challenge(
    task_id: int,
    round_: Annotated[int, typer.Argument(metavar="ROUND", help="round, counted from 1")],
    unit: Annotated[int, typer.Argument(help="unit index (the aggregation unit is the last)")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask before sending")] = False,
    connection: Connection = NO_FLAGS,
) -> None:
    """Appeal a unit's provisional verdict: a larger, fresh quorum re-decides; a wrong verdict pays you back."""
    session = open_session(connection, sign=True)  # fmt: skip
    require_task(session.market, task_id)
    task = session.market.get_task(task_id)
    info = session.market.get_unit(task_id, round_ - 1, unit)
    if info.status is not UnitStatus.DECIDED:
        raise ConfigError(
            f"round {round_} unit {unit} has no verdict open to challenge (it is {info.status.name.lower()})"
        )
    bond = seats_at(task.params.quorum, info.level + 1) * task.params.verifier_reward
    verdict = "valid" if info.verdict else "invalid"
    console.print(f"verdict {verdict} at level {info.level}; a challenge locks {eth(bond)} of your stake")
    interrupt.confirm("challenge it?", yes=yes)
    sent = session.market.challenge_verdict(task_id, round_ - 1, unit)
    console.print(f"challenged: level {info.level + 1} will re-decide (tx {sent.tx_hash})")


@task_app.command("watch")
@connected()
def task_watch(task_id: int, as_json: JsonOpt = False, connection: Connection = NO_FLAGS) -> None:
    """Live progress until the task is completed or cancelled (with --json: nothing until then, then the task as
    `task show --json` prints it: a script's way to wait for a task)."""
    session = open_session(connection, sign=False)
    require_task(session.market, task_id)
    if not as_json:
        watch_task(session, task_id)
        return
    from client.json_out import emit, task_document
    from client.task_view import follow_task

    emit(task_document(follow_task(session, task_id), None))


@task_app.command("cancel")
@connected(signs=True)
def task_cancel(
    task_id: int,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask before sending")] = False,
    connection: Connection = NO_FLAGS,
) -> None:
    """Stop new claims; units in flight finish; the rest of the escrow comes back."""
    session = open_session(connection, sign=True)
    require_task(session.market, task_id)
    interrupt.confirm(f"cancel task {task_id} (no new claims; the escrow left comes back)?", yes=yes)
    session.market.cancel_task(task_id)
    t = session.market.get_task(task_id)
    console.print(f"task {task_id} cancelled; {t.state.in_flight} unit(s) still in flight")


@task_app.command("download")
@connected()
def task_download(
    task_id: int,
    out: Annotated[Path, typer.Option(help="where to write the model")],
    owner_dir: Annotated[
        Path | None,
        typer.Option(
            help="split mode: the owner node's --data-dir, for the whole model (its private layers are there)"
        ),
    ] = None,
    connection: Connection = NO_FLAGS,
) -> None:
    """Write the task's final model (checked against its digest). In split mode the network holds only the public
    middle: that is what anyone gets; the owner gets the whole model with --owner-dir."""
    session = open_session(connection, sign=False)
    require_task(session.market, task_id)
    t = session.market.get_task(task_id)
    if t.state.final_model_digest == b"\0" * 32:
        raise ConfigError(f"task {task_id} has no final model yet (status {t.state.status.name.lower()})")
    final_cid = to_cid(t.state.final_model_digest)
    if not t.params.owner_in_loop:
        if owner_dir is not None:
            raise ConfigError(f"--owner-dir: task {task_id} is not in split mode (its final model is whole)")
        size = session.store.get_to_file(final_cid, out)
        console.print(f"{size} bytes → {out} ({final_cid})")
        return
    from node.ml.model import state_from_bytes, state_to_bytes
    from node.protocol.material import material_of
    from node.roles.owner import owner_model

    material = material_of(t, session.store.get)
    public_bytes = session.store.get(final_cid)
    if owner_dir is None:
        out.write_bytes(public_bytes)
        console.print(
            f"{len(public_bytes)} bytes → {out} ({final_cid}): the public middle only (split mode: the private "
            "layers stay with the owner's node; its owner downloads the whole model with --owner-dir)"
        )
        return
    public = state_from_bytes(public_bytes, material.model_specs)
    chain = session.deployment.identity(session.market.w3)
    whole = owner_model(owner_dir, chain, task_id, t.params.rounds, public, material)
    if whole is None:
        raise ConfigError(
            f"--owner-dir {owner_dir}: no final private layers of task {task_id} of this chain there (the owner "
            "node's --data-dir, once it has seen the task complete)"
        )
    data = state_to_bytes(whole)
    out.write_bytes(data)
    console.print(f"{len(data)} bytes → {out}: the whole model (the public middle {final_cid} and the owner's layers)")
