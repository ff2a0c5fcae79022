"""``dml demo``: a whole local network training handwritten digits, end to end, in one command.

Starts Anvil, deploys TaskMarket, starts a store server and N miners and M verifiers as separate processes
(logs in one folder), submits a digits task, shows its progress, and ends with a summary: accuracy per round
next to centralized training of the same steps, payouts and slashes per node, gas used, wall time; the same as
an HTML report with its plot. ``--byzantine K`` makes K miners cheat (noise, copy, replay in turn). Every
process it started is stopped at the end, also on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hexbytes import HexBytes
from rich.console import Console
from rich.live import Live
from rich.table import Table

from client import interrupt
from client.demo_split import SplitRun, owner_accuracy
from client.devnet import DEV_UNBONDING_DELAY_S, _start_store
from client.explorer_cmds import DEFAULT_PORT
from client.progress import Progress, ProgressReader, progress_signature, waiting_on
from client.render import eth
from client.task_view import render_progress
from client.tasks import Economics, create_task, prepare_task
from explorer.service import ExplorerService, Target
from node.audit.report import accuracy_plot, html_page
from node.chain.build import load_artifact
from node.chain.contract import TaskMarket
from node.chain.deploy import deploy_market
from node.chain.devnet import Devnet, dev_accounts, free_port
from node.chain.events import EventReader
from node.chain.rpc import connect
from node.chain.tx import Signer
from node.children import tied_to_parent
from node.errors import ConfigError, NodeError
from node.ml import spec as sp
from node.ml.baseline import centralized
from node.ml.data import Corpus, digits
from node.ml.defaults import LM_LOCAL_STEPS, digits_spec, fashion_mnist_resnet_spec, fashion_mnist_spec, lm_spec
from node.ml.evaluate import evaluate
from node.ml.importers import fashion_mnist
from node.ml.material import split_for
from node.ml.model import build_module, state_of
from node.ml.text import fortunes
from node.store.client import StoreClient

# Long enough for the demo's watchers to re-check a verdict on this machine, short enough to keep the demo quick.
DEMO_CHALLENGE_WINDOW_S = 5

CHEATS = ("noise", "copy", "replay")
SPLIT_DEMO_STEPS = 200
# Seconds with no unit moving after which the demo says what the task waits for (once per stall).
SLOW_NOTICE_S = 60.0


@dataclass(frozen=True, slots=True)
class DemoConfig:
    miners: int = 2
    verifiers: int = 3
    units: int = 4
    rounds: int = 3
    quorum: int = 3
    local_steps: int = 0  # 0: the workload's own (800 digits, 400 fashion-mnist and its resnet, 400 lm)
    byzantine: int = 0
    timeout_s: float = 600.0
    # After the summary, keep the network and its explorer up until Ctrl-C (what a newcomer at a terminal wants).
    stay: bool = False
    explorer_port: int | None = None
    # "split": an owner's node too, and the task twice on the digits CNN, in plain mode then in split mode.
    privacy: str = "none"
    # "digits" (the MLP on 8×8 digits), "fashion-mnist" (the CNN on Debian's Fashion-MNIST), "fashion-resnet" (a
    # residual CNN on it) or "lm" (a small GPT on Debian's fortunes, byte-level).
    workload: str = "digits"


@dataclass
class DemoResult:
    task_id: int
    wall_time_s: float
    figures: dict[int, float]  # each round's headline figure: accuracy, or a language model's validation loss
    centralized: float  # the same figure of centralized training of the same steps
    payouts: dict[str, int]
    slashes: dict[str, int]
    roles: dict[str, str]
    gas_used: int
    accepted: int
    rejected: int
    report: Path
    processes: list[str] = field(default_factory=list)
    # Seconds of chain time from each result's submission to its final verdict (accepted or rejected).
    verdict_seconds: list[int] = field(default_factory=list)
    split: SplitRun | None = None  # --privacy split: the same task in split mode, after the plain one above
    metric: str = "accuracy"


def run_demo(console: Console, workdir: Path, config: DemoConfig) -> DemoResult:
    if config.byzantine >= config.miners:
        raise NodeError("--byzantine must leave at least one honest miner")
    if config.quorum > config.verifiers:
        raise NodeError(f"quorum {config.quorum} needs at least {config.quorum} verifiers")
    if config.privacy not in ("none", "split"):
        raise ConfigError(f"--privacy {config.privacy}: none or split")
    if config.workload not in WORKLOADS:
        raise ConfigError(f"--workload {config.workload}: one of {', '.join(WORKLOADS)}")
    if config.workload != "digits" and config.privacy == "split":
        raise ConfigError("--privacy split runs the digits CNN: use it with --workload digits")
    spec, data = _workload(config)  # before anything starts: a dataset not installed is one line
    _fresh(workdir)
    artifact = load_artifact()
    processes: list[subprocess.Popen[bytes]] = []
    stack = contextlib.ExitStack()
    started = time.monotonic()
    devnet = Devnet(accounts=4 + config.miners + config.verifiers, log_path=workdir / "anvil.log", tied_to_parent=True)
    try:
        devnet.start()
        w3 = connect(devnet.rpc_url)
        accounts = dev_accounts(2 + config.miners + config.verifiers)
        deployment = deploy_market(Signer(w3, accounts[0]), artifact, unbonding_delay_s=DEV_UNBONDING_DELAY_S)
        deployment_path = workdir / "deployment.json"
        deployment.write(deployment_path)
        store_url, store_pid = _start_store(workdir, tied_to_parent=True)
        console.print(
            f"chain {devnet.rpc_url} · TaskMarket {deployment.address} · store {store_url} · logs in {workdir}"
        )
        # The explorer over this network, in this process: it stops with the demo.
        target = Target(devnet.rpc_url, deployment, (store_url,))
        service = ExplorerService(lambda: target, workdir / "explorer", poll_interval_s=0.5)
        explorer = stack.enter_context(service.serving("127.0.0.1", config.explorer_port or free_port(DEFAULT_PORT)))
        console.print(f"explorer {explorer}  (open it in a browser: the task trains live)")
        roles: dict[str, str] = {}
        for i in range(config.miners):
            name = f"miner-{i}"
            args = ["--roles", "miner,aggregator" if i == config.miners - 1 else "miner"]
            if i < config.byzantine:
                # A Byzantine role from the test-support package, plugged in through the role registry.
                args = ["--plugin", "testkit.adversaries", "--roles", f"cheat-{CHEATS[i % len(CHEATS)]}"]
                name = f"cheater-{i}-{CHEATS[i % len(CHEATS)]}"
            roles[accounts[2 + i].address] = name
            processes.append(_node(workdir, name, 2 + i, args, devnet.rpc_url, deployment_path, store_url))
        for j in range(config.verifiers):
            account = 2 + config.miners + j
            roles[accounts[account].address] = f"verifier-{j}"
            processes.append(_node(workdir, f"verifier-{j}", account, ["--roles", "verifier,keeper"], devnet.rpc_url,
                                   deployment_path, store_url))  # fmt: skip
        owner_url = None
        if config.privacy == "split":  # the task owner's node: serves the step protocol, keeps the private layers
            owner_port = free_port()
            owner_url = f"http://127.0.0.1:{owner_port}"
            processes.append(_node(workdir, "owner", 1, ["--roles", "owner", "--owner-port", str(owner_port)],
                                   devnet.rpc_url, deployment_path, store_url))  # fmt: skip
        owner = TaskMarket.for_account(w3, deployment.address, artifact, accounts[1])
        store = StoreClient.from_endpoints([store_url])
        run = _Run(console, owner, store, data, config, processes, workdir, deployment.block_number)
        began = time.monotonic()
        task_id, progress = run.task(spec)
        plain_s = time.monotonic() - began
        wall = time.monotonic() - started
        split_run = None
        if owner_url is not None:
            split_spec = digits_spec(dataset_digest="0x" + "00" * 32, shards=config.units,
                                     local_steps=spec.training.local_steps, owner_url=owner_url)  # fmt: skip
            began = time.monotonic()
            split_id, _ = run.task(split_spec)
            split_s = time.monotonic() - began
            chain = deployment.identity(w3)
            accuracy = owner_accuracy(owner, store, chain, workdir / "owner", split_id, config.timeout_s)
            split_run = SplitRun(split_id, split_s, plain_s, accuracy)
            wall = time.monotonic() - started
        parts = split_for(spec, data)
        initial = state_of(build_module(spec.model, seed=0))
        baseline = evaluate(
            spec.model,
            centralized(spec, initial, parts.shards, config.rounds * config.units * spec.training.local_steps),
            parts.test,
        ).headline[1]
        outcome = Outcome(task_id, wall, progress.figures, baseline, roles, progress.accepted, progress.rejected,
                          progress.metric)  # fmt: skip
        result = _summarize(owner, artifact.abi, deployment.block_number, outcome, workdir, config.workload)
        result.split = split_run
        _print_summary(console, result)
        if config.stay:
            console.print(f"the network and its explorer stay up at {explorer}: Ctrl-C stops them")
            try:
                while all(p.poll() is None for p in processes):
                    interrupt.check()
                    time.sleep(0.5)
            except KeyboardInterrupt:
                console.print("stopping")
        return result
    finally:
        stack.close()
        for p in processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in processes:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        if "store_pid" in locals():
            _stop_pid(store_pid)
        devnet.stop()


@dataclass(frozen=True, slots=True)
class _Run:
    """Submits a task to the demo's network and shows its progress until it finishes."""

    console: Console
    owner: TaskMarket
    store: StoreClient
    data: Corpus
    config: DemoConfig
    processes: list[subprocess.Popen[bytes]]
    workdir: Path
    from_block: int

    def task(self, spec: sp.TaskSpec) -> tuple[int, Progress]:
        c = self.config
        economics = Economics(rounds=c.rounds, quorum=c.quorum, challenge_window_s=DEMO_CHALLENGE_WINDOW_S)
        prepared = prepare_task(self.store, spec, self.data, economics)
        task_id = create_task(self.owner, prepared)
        mode = " in split mode" if spec.privacy.mode == "split" else ""
        self.console.print(f"task {task_id}{mode}: {c.rounds} rounds × {c.units} units, quorum {c.quorum}, "
                           f"budget {eth(prepared.params.budget)} escrowed")  # fmt: skip
        reader = ProgressReader(self.owner, self.store, task_id, self.from_block)
        progress = reader.read()
        # The deadline follows progress: while units move, the demo waits; timeout_s with none moving ends it.
        moved_at, seen, said = time.monotonic(), progress_signature(progress), False
        with Live(render_progress(progress), console=self.console, refresh_per_second=4) as live:
            while not progress.finished:
                interrupt.check()
                now = time.monotonic()
                if progress_signature(progress) != seen:
                    moved_at, seen, said = now, progress_signature(progress), False
                elif now - moved_at > c.timeout_s:
                    raise NodeError(
                        f"the task made no progress for {c.timeout_s:.0f}s ({waiting_on(progress)}); see the logs in "
                        f"{self.workdir}"
                    )
                elif now - moved_at > SLOW_NOTICE_S and not said:
                    said = True
                    live.console.print(
                        f"no unit has moved for {now - moved_at:.0f} s: {waiting_on(progress)} (logs in {self.workdir})"
                    )
                for p in self.processes:
                    if p.poll() is not None:
                        raise NodeError(f"a node exited with code {p.returncode}; see the logs in {self.workdir}")
                time.sleep(0.5)
                progress = reader.read()
                live.update(render_progress(progress))
        return task_id, progress


DEMO_MARK = ".dml-demo"


WORKLOADS = ("digits", "fashion-mnist", "fashion-resnet", "lm")


def _workload(config: DemoConfig) -> tuple[sp.TaskSpec, Corpus]:
    """The demo's spec and data; ``config.local_steps`` 0 means the workload's own default."""
    none = "0x" + "00" * 32
    if config.workload == "fashion-mnist":
        steps = config.local_steps or 400
        return fashion_mnist_spec(dataset_digest=none, shards=config.units, local_steps=steps), fashion_mnist()
    if config.workload == "fashion-resnet":
        steps = config.local_steps or 400
        return fashion_mnist_resnet_spec(dataset_digest=none, shards=config.units, local_steps=steps), fashion_mnist()
    if config.workload == "lm":
        steps = config.local_steps or LM_LOCAL_STEPS
        return lm_spec(dataset_digest=none, shards=config.units, local_steps=steps), fortunes()
    # Split mode does a round trip to the owner's node per step: its demo trains 200 steps a unit (both tasks, so
    # that their wall times compare), which finishes on a 2-core machine; 800 for the plain digits MLP.
    steps = config.local_steps or (SPLIT_DEMO_STEPS if config.privacy == "split" else 800)
    spec = digits_spec(dataset_digest=none, shards=config.units, local_steps=steps, cnn=config.privacy == "split")
    return spec, Corpus(digits())


def _fresh(workdir: Path) -> None:
    """Each run starts from an empty folder: a run never reads the state, logs or store of the one before (a new
    chain each time). Only a folder the demo made itself is emptied."""
    if workdir.exists() and any(workdir.iterdir()):
        if not (workdir / DEMO_MARK).exists() and not (workdir / "anvil.log").exists():  # (runs before the mark)
            raise ConfigError(f"{workdir} holds files the demo did not write: give another --workdir")
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / DEMO_MARK).write_text("written by `dml demo`: emptied at the start of each run\n")


def _node(
    workdir: Path, name: str, account: int, args: list[str], rpc: str, deployment: Path, store: str
) -> subprocess.Popen[bytes]:
    log = (workdir / f"{name}.log").open("ab")
    cmd = [sys.executable, "-m", "client.cli", "node", "run", *args, "--dev-account", str(account), "--rpc", rpc,
           "--deployment", str(deployment), "--store", store, "--data-dir", str(workdir / name),
           "--poll-interval", "0.3", "--withdraw-threshold", f"{10**30} wei"]  # fmt: skip
    process = subprocess.Popen(
        tied_to_parent(cmd),  # a demo killed outright takes its nodes with it
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    log.close()
    return process


def _stop_pid(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)


@dataclass(frozen=True, slots=True)
class Outcome:
    task_id: int
    wall: float
    figures: dict[int, float]
    baseline: float
    roles: dict[str, str]
    accepted: int
    rejected: int
    metric: str = "accuracy"


def _summarize(
    owner: TaskMarket, abi: list[dict[str, Any]], from_block: int, o: Outcome, workdir: Path, workload: str
) -> DemoResult:
    w3 = owner.w3
    task_id, wall, accuracy, baseline, roles = o.task_id, o.wall, o.figures, o.baseline, o.roles
    accepted, rejected = o.accepted, o.rejected
    reader = EventReader(w3, owner.address, abi)
    payouts: dict[str, int] = defaultdict(int)
    slashes: dict[str, int] = defaultdict(int)
    tx_hashes: set[str] = set()
    submitted_at: dict[tuple[int, int], int] = {}
    verdict_seconds: list[int] = []
    block_time: dict[int, int] = {}
    for e in reader.read(from_block, reader.head()):
        tx_hashes.add(e.tx_hash)
        if e.args.get("taskId") == task_id and e.name in ("ResultSubmitted", "UnitAccepted", "UnitRejected"):
            unit = (int(e.args["round"]), int(e.args["index"]))
            if e.block_number not in block_time:
                block_time[e.block_number] = int(w3.eth.get_block(e.block_number)["timestamp"])
            at = block_time[e.block_number]
            if e.name == "ResultSubmitted":
                submitted_at[unit] = at
            elif unit in submitted_at:
                verdict_seconds.append(at - submitted_at.pop(unit))
        if e.name == "Credited" and e.args["taskId"] == task_id:
            payouts[str(e.args["account"])] += int(e.args["amount"])
        elif e.name == "StakeSlashed" and e.args["taskId"] == task_id:
            slashes[str(e.args["account"])] += int(e.args["amount"])
    gas = sum(int(w3.eth.get_transaction_receipt(HexBytes(h))["gasUsed"]) for h in tx_hashes)
    report = workdir / "report.html"
    accuracy_plot(workdir / "accuracy.png", accuracy, baseline, f"task {task_id}: {workload}", metric=o.metric)
    names = {**roles, owner.signer.address: "owner (refund)"}
    nodes = [("node", "address", "paid", "slashed")] + [
        (names.get(a, a), a, eth(payouts.get(a, 0)), eth(slashes.get(a, 0)))
        for a in sorted(set(payouts) | set(slashes) | set(roles))
    ]
    report.write_text(html_page(f"dmlnet demo — task {task_id}", [
        ("Summary", [("figure", "value"), ("wall time", f"{wall:.1f} s"), ("units accepted", accepted),
                     ("results rejected", rejected), ("gas used", f"{gas:,}"),
                     ("submission to final verdict", _median_text(verdict_seconds)),
                     (f"final {o.metric} (network)", f"{accuracy.get(max(accuracy), 0):.4f}" if accuracy else "-"),
                     ("centralized, same steps", f"{baseline:.4f}")]),
        (f"{o.metric.capitalize()} per round",
         [("round", o.metric)] + [(r + 1, f"{a:.4f}") for r, a in sorted(accuracy.items())]),
        ("Payouts and slashes", nodes),
    ], "accuracy.png"))  # fmt: skip
    return DemoResult(
        task_id, wall, accuracy, baseline, dict(payouts), dict(slashes), roles, gas, accepted, rejected, report,
        verdict_seconds=verdict_seconds, metric=o.metric,
    )  # fmt: skip


def _median_text(seconds: list[int]) -> str:
    if not seconds:
        return "-"
    ordered = sorted(seconds)
    return f"median {ordered[len(ordered) // 2]} s, range {ordered[0]}–{ordered[-1]} s over {len(ordered)} results"


def _print_summary(console: Console, r: DemoResult) -> None:
    table = Table(title=f"task {r.task_id} — done in {r.wall_time_s:.1f} s, {r.gas_used:,} gas")
    table.add_column("round")
    table.add_column(f"network {r.metric}", justify="right")
    table.add_column("centralized (same steps)", justify="right")
    for round_, figure in sorted(r.figures.items()):
        table.add_row(str(round_ + 1), f"{figure:.4f}", f"{r.centralized:.4f}" if round_ == max(r.figures) else "")
    console.print(table)
    nodes = Table(title=f"payouts and slashes ({r.accepted} units accepted, {r.rejected} results rejected)")
    for column in ("node", "paid", "slashed"):
        nodes.add_column(column, justify="left" if column == "node" else "right")
    for address, name in sorted(r.roles.items(), key=lambda kv: kv[1]):
        nodes.add_row(name, eth(r.payouts.get(address, 0)), eth(r.slashes.get(address, 0)))
    console.print(nodes)
    console.print(f"submission to final verdict: {_median_text(r.verdict_seconds)}")
    if r.split is not None:
        split = Table(title=f"split mode — task {r.split.task_id}: the owner keeps the first conv and the last linear")
        for column in ("round", "plain mode (network)", "split mode (owner's model)"):
            split.add_column(column, justify="right")
        for round_, acc in sorted(r.split.owner_accuracy.items()):
            split.add_row(str(round_ + 1), f"{r.figures.get(round_, float('nan')):.4f}", f"{acc:.4f}")
        console.print(split)
        console.print(
            f"task wall time: plain {r.split.plain_task_s:.1f} s, split {r.split.split_task_s:.1f} s "
            f"({r.split.overhead:.2f}×)"
        )
    console.print(f"report: {r.report}")
