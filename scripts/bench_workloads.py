"""Workloads worth paying for: Fashion-MNIST through a whole local network, and data bigger than a node's memory.

1. **Fashion-MNIST** (Debian's real 70,000 images): the built-in CNN of 80,602 parameters, R rounds × 4 units,
   through Anvil, a store server, 4 miners of which one Byzantine (it adds noise to its trails), 3 verifiers at
   quorum 3 and the coordinate-wise median. Network accuracy on the official test split against centralized training of
   the same steps in this run, and against the dataset's own benchmark table ("2 Conv <100K parameters": 0.925,
   "2 Conv+pooling": 0.876–0.916). Verification cost: a verifier's CPU re-executing a unit over the miner's CPU
   training it, on one unit of this spec, in process.
2. **A residual CNN** on Fashion-MNIST through a network (2 miners, a verifier at quorum 1, FedAvg): accuracy
   against centralized training of the same steps.
3. **A dataset bigger than memory**: a synthetic float32 dataset of ``--size-mb`` in 64 shards, stored through a
   real store server shard by shard, against the same shard size as a dataset of one shard. A miner process
   trains one unit and a verifier process checks it; each reports its peak RSS, the bytes it fetched and the time
   it spent fetching. Goal: the 64-shard dataset's peak RSS within 2× of the one-shard's, bytes per unit the same.

    python -m scripts.bench_workloads [--rounds 8] [--local-steps 400] [--resnet-rounds 4] [--size-mb 2048]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.datasets import context_of, load_dataset
from client.tasks import Economics, create_task, prepare_task
from node.chain.build import ensure_artifact
from node.chain.deploy import deploy_market
from node.chain.devnet import Devnet, dev_accounts
from node.chain.rpc import connect
from node.chain.tx import Signer
from node.chain.types import DEFAULT_UNBONDING_DELAY_S, TaskStatus
from node.ml.baseline import centralized
from node.ml.calibrate import calibrate
from node.ml.data import Corpus, Dataset, synthetic
from node.ml.defaults import LM_LOCAL_STEPS, digits_spec, fashion_mnist_resnet_spec, fashion_mnist_spec, lm_spec
from node.ml.device import Hardware, cores
from node.ml.evaluate import evaluate
from node.ml.importers import fashion_mnist
from node.ml.manifest import UnitContext, publish_trail
from node.ml.material import load_material, split_for
from node.ml.model import build_module, state_from_bytes, state_of, state_to_bytes, tensor_specs
from node.ml.shards import publish_parts
from node.ml.spec import TaskSpec
from node.ml.text import fortunes
from node.ml.throughput import plain_rate, trainer_rate
from node.ml.train import train_unit
from node.ml.verify import verify_unit
from node.store.canonical import canonical_bytes
from node.store.cid import to_cid
from node.store.client import StoreClient
from scripts.benchlib import emit, peak_rss_mb, print_table
from testkit.chain import Chain
from testkit.network import network
from testkit.polling import wait_until
from testkit.servers import store_server

MINER = "0x" + "11" * 20
SHARDS = 64
FEATURES = 256  # a sample is 1 KiB of float32


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--local-steps", type=int, default=400)
    parser.add_argument("--size-mb", type=int, default=2048, help="the large synthetic dataset's size")
    parser.add_argument("--lm-rounds", type=int, default=3, help="rounds of the language-model task")
    parser.add_argument("--lm-local-steps", type=int, default=LM_LOCAL_STEPS)
    parser.add_argument("--resnet-rounds", type=int, default=4, help="rounds of the residual CNN's task")
    parser.add_argument("--resnet-local-steps", type=int, default=400)
    parser.add_argument(
        "--calibration-units", type=int, default=20, help="units per workload re-executed for the calibration table"
    )
    parser.add_argument(
        "--trials", type=int, default=3, help="throughput runs of each loop, alternating; the best of each is kept"
    )
    parser.add_argument("--child", choices=["train", "verify"], help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--spec-cid", help=argparse.SUPPRESS)
    parser.add_argument("--dataset-cid", help=argparse.SUPPRESS)
    parser.add_argument("--trail-cid", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args)
        return
    fm = _fashion_mnist(args.rounds, args.local_steps)
    resnet = _resnet(args.resnet_rounds, args.resnet_local_steps)
    lm = _language_model(args.lm_rounds, args.lm_local_steps)
    calibration = _calibration(args.calibration_units)
    speed = _throughput(args.trials)
    big = _sharded(args.size_mb)
    rows: list[tuple[str, Any]] = [
        ("Fashion-MNIST task", f"{args.rounds} rounds × 4 units × {args.local_steps} steps, quorum 3, median"),
        ("network test accuracy", fm["network"]),
        ("centralized, same steps, this run", fm["centralized"]),
        ("dataset's table: 2 Conv <100K parameters", 0.925),
        ("Byzantine units rejected / submitted", f"{fm['byzantine_rejected']} / {fm['byzantine_submitted']}"),
        ("honest units rejected", fm["honest_rejected"]),
        ("verification cost / training (CPU, one unit)", fm["verification_cost_ratio"]),
        ("wall time (s)", fm["wall_s"]),
        ("residual CNN task", f"{args.resnet_rounds} rounds × 4 units × {args.resnet_local_steps} steps, quorum 1"),
        ("network test accuracy", resnet["network"]),
        ("centralized, same steps, this run", resnet["centralized"]),
        ("units rejected", resnet["rejected"]),
        ("GPT task on fortunes", f"{args.lm_rounds} rounds × 4 units × {args.lm_local_steps} steps, quorum 1"),
        ("network validation loss", lm["network"]),
        ("centralized, same steps, this run", lm["centralized"]),
        ("network / centralized loss", lm["ratio"]),
        ("units rejected", lm["rejected"]),
        ("verification cost / training (CPU, one unit)", lm["verification_cost_ratio"]),
    ]
    for name, c in calibration.items():
        low, high = c["largest_honest_distance"], c["smallest_cheat_distance"]
        rows.append(
            (f"calibration {name}: honest max / cheat min / tolerance", f"{low:.2g} / {high:.2g} / {c['tolerance']:g}")
        )
    for name, s in speed.items():
        rows.append((f"throughput {name}: samples/s 1 thread, {s['cores']} (ratio to plain torch)",
                     f"{s['rate_1']:.0f} ({s['ratio_1']}), {s['rate_n']:.0f} ({s['ratio_n']})"))  # fmt: skip
    for name, figures in (("1 shard", big["one"]), (f"{SHARDS} shards", big["many"])):
        for role in ("train", "verify"):
            f = figures[role]
            rows.append((f"{name}: {role} peak RSS (MB)", f["peak_rss_mb"]))
            rows.append((f"{name}: {role} bytes fetched (MB) / fetch s", f"{f['fetched_mb']} / {f['fetch_s']}"))
    rows.append((f"{SHARDS}-shard dataset (MB) / shard (MB)", f"{big['dataset_mb']} / {big['shard_mb']}"))
    print_table(["figure", "value"], rows)
    one, many = big["one"], big["many"]
    emit(
        "workloads",
        {
            "fmnist_network_accuracy": fm["network"],
            "fmnist_centralized_accuracy": fm["centralized"],
            "fmnist_rounds": args.rounds,
            "fmnist_local_steps": args.local_steps,
            "byzantine_rejected": fm["byzantine_rejected"],
            "byzantine_submitted": fm["byzantine_submitted"],
            "honest_rejected": fm["honest_rejected"],
            "verification_cost_ratio": fm["verification_cost_ratio"],
            "dataset_mb": big["dataset_mb"],
            "shard_mb": big["shard_mb"],
            "miner_peak_rss_mb_one_shard": one["train"]["peak_rss_mb"],
            "miner_peak_rss_mb_sharded": many["train"]["peak_rss_mb"],
            "verifier_peak_rss_mb_one_shard": one["verify"]["peak_rss_mb"],
            "verifier_peak_rss_mb_sharded": many["verify"]["peak_rss_mb"],
            "rss_ratio_miner": round(many["train"]["peak_rss_mb"] / one["train"]["peak_rss_mb"], 3),
            "rss_ratio_verifier": round(many["verify"]["peak_rss_mb"] / one["verify"]["peak_rss_mb"], 3),
            "fetched_mb_per_unit_one_shard": one["train"]["fetched_mb"],
            "fetched_mb_per_unit_sharded": many["train"]["fetched_mb"],
            "fetch_s_one_shard": one["train"]["fetch_s"],
            "fetch_s_sharded": many["train"]["fetch_s"],
            "resnet_network_accuracy": resnet["network"],
            "resnet_centralized_accuracy": resnet["centralized"],
            "resnet_rejected": resnet["rejected"],
            "resnet_rounds": args.resnet_rounds,
            "resnet_local_steps": args.resnet_local_steps,
            "lm_network_val_loss": lm["network"],
            "lm_centralized_val_loss": lm["centralized"],
            "lm_loss_ratio": lm["ratio"],
            "lm_rejected": lm["rejected"],
            "lm_verification_cost_ratio": lm["verification_cost_ratio"],
            "lm_rounds": args.lm_rounds,
            "lm_local_steps": args.lm_local_steps,
            "calibration": calibration,
            "honest_false_rejects": sum(int(c["false_rejects"]) for c in calibration.values()),
            "honest_segments": sum(int(c["segments"]) for c in calibration.values()),
            "all_cheats_rejected": all(bool(c["cheats_rejected"]) for c in calibration.values()),
            "throughput": speed,
        },
    )


# ------------------------------------------------------------------------------------------- Fashion-MNIST


def _fashion_mnist(rounds: int, local_steps: int) -> dict[str, Any]:
    corpus = fashion_mnist()
    spec = fashion_mnist_spec(dataset_digest="0x" + "00" * 32, local_steps=local_steps, aggregation="median")
    nodes = [
        ("miner-a", "miner", 2), ("miner-b", "miner", 3), ("miner-c", "miner,aggregator", 4),
        ("verifier-0", "verifier,keeper", 5), ("verifier-1", "verifier,keeper", 6),
        ("verifier-2", "verifier,keeper", 7),
    ]  # fmt: skip
    run = _through_network(spec, corpus, Economics(rounds=rounds, quorum=3, claim_timeout_s=600), nodes, cheater=8)
    cheater = dev_accounts(12)[8].address
    submitted = [a for n, a in run.events if n == "ResultSubmitted"]
    rejected = [a for n, a in run.events if n == "UnitRejected"]
    parts = split_for(spec, corpus)
    network_model = state_from_bytes(run.final, tensor_specs(build_module(spec.model)))
    network_accuracy = evaluate(spec.model, network_model, parts.test).accuracy
    steps = rounds * spec.dataset.shards * local_steps
    central = centralized(spec, state_of(build_module(spec.model, seed=0)), parts.shards, steps)
    return {
        "network": round(network_accuracy, 4),
        "centralized": round(evaluate(spec.model, central, parts.test).accuracy, 4),
        "byzantine_submitted": sum(1 for a in submitted if a["miner"] == cheater),
        "byzantine_rejected": sum(1 for a in rejected if a["miner"] == cheater),
        "honest_rejected": sum(1 for a in rejected if a["miner"] != cheater),
        "verification_cost_ratio": _verification_cost(spec, parts.shards[0]),
        "wall_s": round(run.wall_s, 1),
    }


def _resnet(rounds: int, local_steps: int) -> dict[str, Any]:
    """The residual CNN on Fashion-MNIST through a network (2 miners, a verifier at quorum 1, FedAvg), against
    centralized training of the same steps, on the official test split."""
    corpus = fashion_mnist()
    spec = fashion_mnist_resnet_spec(dataset_digest="0x" + "00" * 32, local_steps=local_steps)
    nodes = [("miner-a", "miner,aggregator", 2), ("miner-b", "miner", 3), ("verifier-0", "verifier,keeper", 4)]
    run = _through_network(spec, corpus, Economics(rounds=rounds, quorum=1, claim_timeout_s=600), nodes)
    parts = split_for(spec, corpus)
    network = evaluate(spec.model, state_from_bytes(run.final, tensor_specs(build_module(spec.model))), parts.test)
    steps = rounds * spec.dataset.shards * local_steps
    central = centralized(spec, state_of(build_module(spec.model, seed=0)), parts.shards, steps)
    return {
        "network": round(network.accuracy, 4),
        "centralized": round(evaluate(spec.model, central, parts.test).accuracy, 4),
        "rejected": sum(1 for n, _ in run.events if n == "UnitRejected"),
        "wall_s": round(run.wall_s, 1),
    }


@dataclass(frozen=True, slots=True)
class _NetworkRun:
    final: bytes  # the task's final model
    events: list[tuple[str, dict[str, object]]]  # the market's events from its deployment on
    wall_s: float  # task creation to completion


def _through_network(
    spec: TaskSpec,
    corpus: Corpus,
    economics: Economics,
    nodes: list[tuple[str, str, int]],
    cheater: int | None = None,
) -> _NetworkRun:
    """One task through a fresh Anvil, a store server and node processes (name, roles, dev account), with a noise
    cheater on the given account when asked; returns once the task is complete."""
    artifact = ensure_artifact()
    with Devnet(accounts=12) as devnet, tempfile.TemporaryDirectory(prefix="bench-workloads-") as tmp:
        w3 = connect(devnet.rpc_url)
        accounts = dev_accounts(12)
        deployment = deploy_market(Signer(w3, accounts[0]), artifact, unbonding_delay_s=DEFAULT_UNBONDING_DELAY_S)
        chain = Chain(devnet.rpc_url, w3, artifact, deployment, accounts)
        owner = chain.market(accounts[1])
        with network(chain, Path(tmp)) as net:
            for name, roles, account in nodes:
                net.node(name, roles, account).start()
            if cheater is not None:
                net.node("cheater", "cheat-noise", cheater, "--plugin", "testkit.adversaries").start()
            started = time.monotonic()
            task_id = create_task(owner, prepare_task(net.store(), spec, corpus, economics))
            wait_until(
                lambda: owner.get_task(task_id).state.status is TaskStatus.COMPLETED,
                timeout_s=3600,
                what="the task to complete",
            )
            wall = time.monotonic() - started
            final = net.store().get(to_cid(owner.get_task(task_id).state.final_model_digest))
            return _NetworkRun(final, net.events(deployment.block_number), wall)


def _verification_cost(spec: TaskSpec, shard: Dataset) -> float:
    """A verifier's CPU time judging one honest unit over the miner's CPU time training it (in process)."""
    with tempfile.TemporaryDirectory(prefix="bench-workloads-store-") as folder:
        return _judged_over_trained(spec, shard, StoreClient.from_endpoints([folder]))


def _judged_over_trained(spec: TaskSpec, shard: Dataset, store: StoreClient) -> float:
    initial = state_of(build_module(spec.model, seed=0))
    input_cid = store.put(state_to_bytes(initial))
    spec_cid = store.put(canonical_bytes(spec))
    seed = b"\x07" * 32
    began = time.process_time()
    trail = train_unit(spec, initial, shard, seed)
    ctx = UnitContext(1, 0, 0, MINER, spec_cid, spec_cid, input_cid, seed)
    _, manifest_cid = publish_trail(trail, store.put, ctx)
    training = time.process_time() - began
    began = time.process_time()
    verdict = verify_unit(spec, store.get(manifest_cid), store.get, b"challenge", ctx, shard)
    checking = time.process_time() - began
    if not verdict.valid:
        raise SystemExit(f"an honest unit was judged invalid: {verdict.reason}")
    return round(checking / training, 4)


# ------------------------------------------------------------------------------------------- language model


def _language_model(rounds: int, local_steps: int) -> dict[str, Any]:
    """The small GPT on fortunes through a network (2 miners, a verifier at quorum 1), against centralized training of
    the same steps; both evaluated on the held-out tail."""
    corpus = fortunes()
    spec = lm_spec(dataset_digest="0x" + "00" * 32, local_steps=local_steps)
    nodes = [("miner-a", "miner,aggregator", 2), ("miner-b", "miner", 3), ("verifier-0", "verifier,keeper", 4)]
    run = _through_network(spec, corpus, Economics(rounds=rounds, quorum=1, claim_timeout_s=600), nodes)
    parts = split_for(spec, corpus)
    network_loss = evaluate(spec.model, state_from_bytes(run.final, tensor_specs(build_module(spec.model))), parts.test)
    steps = rounds * spec.dataset.shards * local_steps
    central = centralized(spec, state_of(build_module(spec.model, seed=0)), parts.shards, steps)
    central_loss = evaluate(spec.model, central, parts.test)
    return {
        "network": round(network_loss.loss, 4),
        "centralized": round(central_loss.loss, 4),
        "ratio": round(network_loss.loss / central_loss.loss, 4),
        "rejected": sum(1 for n, _ in run.events if n == "UnitRejected"),
        "verification_cost_ratio": _verification_cost(spec, parts.shards[0]),
    }


# ------------------------------------------------------------------------------------------- calibration


def _workloads(local_steps: int) -> dict[str, tuple[TaskSpec, str]]:
    none = "0x" + "00" * 32
    return {
        "digits-mlp": (digits_spec(dataset_digest=none, local_steps=2 * local_steps), "digits"),
        "digits-cnn": (digits_spec(dataset_digest=none, local_steps=2 * local_steps, cnn=True), "digits"),
        "fashion-mnist-cnn": (fashion_mnist_spec(dataset_digest=none, local_steps=local_steps), "fashion-mnist"),
        "fashion-mnist-resnet": (
            fashion_mnist_resnet_spec(dataset_digest=none, local_steps=local_steps),
            "fashion-mnist",
        ),
        "fortunes-gpt": (lm_spec(dataset_digest=none, local_steps=local_steps), "fortunes"),
    }


def _calibration(units: int) -> dict[str, dict[str, Any]]:
    """Each built-in workload's honest and cheat distances (node.ml.calibrate) over ``units`` units of 50 steps,
    against the tolerance its spec gets."""
    table: dict[str, dict[str, Any]] = {}
    for name, (spec, dataset) in _workloads(50).items():
        parts = split_for(spec, load_dataset(dataset, context=context_of(spec)))
        found = calibrate(spec, state_of(build_module(spec.model)), parts.shards, units=units, threads=2)
        tolerance = spec.tolerance
        table[name] = {
            "family": spec.family,
            "segments": found.segments,
            "largest_honest_distance": found.worst_honest,
            "smallest_cheat_distance": found.closest_cheat,
            "closest_cheat": min(found.cheats, key=lambda k: min(found.cheats[k])),
            "proposed_tolerance": found.proposed,
            "tolerance": tolerance,
            "false_rejects": found.false_rejects(tolerance),
            "cheats_rejected": found.cheats_rejected(tolerance),
        }
    return table


def _throughput(trials: int = 3) -> dict[str, dict[str, Any]]:
    """Samples/s of the trainer and of plain PyTorch, at 1 thread and at every core: ``trials`` runs each,
    alternating, the best of each kept (as ``timeit`` does: the run least disturbed by the rest of a shared
    machine)."""
    out: dict[str, dict[str, Any]] = {}
    n = max(2, cores())
    for name, (spec, dataset) in _workloads(60).items():
        parts = split_for(spec, load_dataset(dataset, context=context_of(spec)))
        model, shard = state_of(build_module(spec.model)), parts.shards[0]
        figures: dict[str, Any] = {"cores": n, "trials": trials}
        for label, threads in (("1", 1), ("n", n)):
            hardware = Hardware(threads=threads)
            ours = plain = 0.0
            for _ in range(trials):
                ours = max(ours, trainer_rate(spec, model, shard, hardware))
                plain = max(plain, plain_rate(spec, model, shard, hardware))
            figures[f"rate_{label}"] = round(ours, 1)
            figures[f"plain_rate_{label}"] = round(plain, 1)
            figures[f"ratio_{label}"] = round(ours / plain, 3)
        out[name] = figures
    return out


# ------------------------------------------------------------------------------------------- sharded data


def _sharded(size_mb: int) -> dict[str, Any]:
    """Stores the large dataset and a one-shard dataset of the same shard size, then trains and checks a unit of
    each in child processes."""
    shard_samples = max(64, size_mb * (1 << 20) // SHARDS // (FEATURES * 4))
    spec_of = {
        shards: TaskSpec.model_validate(
            {
                "model": {
                    "input_shape": [FEATURES],
                    "layers": [
                        {"type": "linear", "in_features": FEATURES, "out_features": 64},
                        {"type": "relu"},
                        {"type": "linear", "in_features": 64, "out_features": 10},
                    ],
                },
                "training": {
                    "loss": "cross_entropy",
                    "optimizer": {"type": "sgd", "lr": 0.05, "momentum": 0.9},
                    "batch_size": 64,
                    "local_steps": 100,
                    "checkpoint_every": 5,
                },
                "dataset": {"digest": "0x" + "00" * 32, "shards": shards},
            }
        )
        for shards in (1, SHARDS)
    }
    figures: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-shards-") as tmp,
        store_server(Path(tmp) / "store", max_bytes=1 << 40) as (url, _),
    ):
        store = StoreClient.from_endpoints([url])
        for key, shards in (("one", 1), ("many", SHARDS)):
            # One shard at a time: the owner never holds the whole dataset either.
            parts = (synthetic(shard_samples, features=FEATURES, seed=i) for i in range(shards))
            test = synthetic(256, features=FEATURES, seed=10_000)
            manifest = publish_parts(store.put, parts, test, shard_seed=0, holdout_fraction=None)
            dataset_cid = store.put(manifest)
            spec = spec_of[shards].model_copy(
                update={"dataset": spec_of[shards].dataset.model_copy(update={"digest": dataset_cid})}
            )
            spec_cid = store.put(canonical_bytes(spec))
            common = ["--store", url, "--spec-cid", spec_cid, "--dataset-cid", dataset_cid]
            trained = _run_child("train", common)
            checked = _run_child("verify", [*common, "--trail-cid", trained["trail_cid"]])
            figures[key] = {"train": trained, "verify": checked}
    shard_mb = round(shard_samples * FEATURES * 4 / (1 << 20), 1)
    return {**figures, "shard_mb": shard_mb, "dataset_mb": round(shard_mb * SHARDS, 1)}


def _run_child(role: str, args: list[str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "scripts.bench_workloads", "--child", role, *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def _child(args: argparse.Namespace) -> None:
    """One node's work on unit 0 (the last shard of the dataset: nothing before it is needed), as a node does it:
    the spec and the manifest, then the one shard."""
    store = StoreClient.from_endpoints([args.store])
    fetch_s = 0.0

    def fetch(cid: str) -> bytes:
        nonlocal fetch_s
        began = time.monotonic()
        data = store.get(cid)
        fetch_s += time.monotonic() - began
        return data

    material = load_material(fetch(args.spec_cid), fetch, spec_cid=args.spec_cid, dataset_cid=args.dataset_cid)
    index = material.data.shard_count - 1
    shard = material.shard(index)
    initial = state_of(build_module(material.spec.model, seed=0))
    input_cid = store.put(state_to_bytes(initial))
    seed = b"\x05" * 32
    ctx = UnitContext(1, 0, index, MINER, args.spec_cid, args.dataset_cid, input_cid, seed)
    figures: dict[str, Any] = {}
    if args.child == "train":
        trail = train_unit(material.spec, initial, shard, seed)
        _, trail_cid = publish_trail(trail, store.put, ctx)
        figures["trail_cid"] = trail_cid
    else:
        verdict = verify_unit(material.spec, fetch(args.trail_cid), fetch, b"challenge", ctx, shard)
        if not verdict.valid:
            raise SystemExit(f"an honest unit was judged invalid: {verdict.reason}")
    figures.update(
        peak_rss_mb=round(peak_rss_mb(), 1),
        fetched_mb=round(material.data.bytes_fetched / (1 << 20), 2),
        fetch_s=round(fetch_s, 3),
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
