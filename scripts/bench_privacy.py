"""How much of a split-trained model an attacker rebuilds from what the network sees, and what split mode costs.

On scikit-learn digits, for the digits CNN and a 4-layer MLP, the owner trains the whole model (in split mode:
the same step, computed by the owner's side and the miner's side through the step protocol, in process). Then:

- A1: an attacker holds the public part after training and k labelled samples (k = 10, 50, 100, 500) and trains
  the missing layers, the public part frozen or fine-tuned; next to training the whole model from scratch on the
  same k. Gap closed G = (attacker − scratch) / (owner − scratch): 0 the public part helped nothing, 1 the
  attacker has the owner's model.
- A2: A1 plus everything a miner or verifier sees on the wire during the owner's training: the stem's output for
  inputs it can name (the data is public and each step's batch follows from the public unit seed) is regressed
  into a stand-in stem; the gradients arriving at the middle's output are matched by a stand-in head (labels
  unknown, recovered with it: the DLG/iDLG attack on the head).
- A3: steps of training on the whole public training set to reach 95% of the owner's accuracy, from the public
  part vs from scratch.
- Costs: the owner's share of a forward pass, bytes on the wire per step, wall time of split training in process
  against plain training of the same steps (``split_step_ratio``; over HTTP see bench_split_wire), and task wall
  time on a whole local network (``split_overhead_ratio``): ``dml demo --privacy split`` runs the same CNN task in
  plain then split mode (an owner's node, 2 miners, 3 verifiers, real chain, store and HTTP), each from submission
  to completion.

Splits: everything public, head private, stem private, stem + head private, and an OmniLytics-style baseline
(the public middle trained by a miner with its own stand-in stem and head; the owner then trains its private
layers on the frozen middle). Median and range over 5 seeds.

    python -m scripts.bench_privacy            # about 15 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F  # noqa: N812 (the usual name)
from torch import nn

from node.ml import spec as sp
from node.ml.data import Dataset, digits, split
from node.ml.defaults import digits_cnn_model
from node.ml.model import State, build_module, state_of
from node.ml.spec_check import spec_from
from node.ml.split import SplitPlan, combine, plan_split
from node.ml.split_unit import OwnerUnit, middle_of, train_middle
from node.ml.split_wire import Kind, decode
from node.ml.train import batch_indices, train_unit
from scripts.benchlib import emit, print_table, results_dir

SEEDS = range(5)
KS = (10, 50, 100, 500)
OWNER_STEPS = 600  # the owner's training: about 13 epochs of the 1,438 training digits at batch 32
ATTACK_STEPS = 300
A3_MAX_STEPS, A3_EVERY = 1_500, 25
SPLITS = {"public": (0, 0), "head": (0, 1), "stem": (1, 0), "stem+head": (1, 1), "omnilytics": (1, 1)}
UNIT_SEED = b"\x07" * 32


def mlp4() -> sp.ModelSpec:
    return sp.ModelSpec.model_validate(
        {
            "input_shape": [1, 8, 8],
            "layers": [
                {"type": "flatten"},
                {"type": "linear", "in_features": 64, "out_features": 128}, {"type": "relu"},
                {"type": "linear", "in_features": 128, "out_features": 128}, {"type": "relu"},
                {"type": "linear", "in_features": 128, "out_features": 64}, {"type": "relu"},
                {"type": "linear", "in_features": 64, "out_features": 10},
            ],
        }
    )  # fmt: skip


def task_spec(model: sp.ModelSpec, steps: int = OWNER_STEPS) -> sp.TaskSpec:
    return spec_from(
        {
            "model": model.model_dump(mode="json"),
            "training": {"loss": "cross_entropy", "optimizer": {"type": "sgd", "lr": 0.05, "momentum": 0.9},
                         "batch_size": 32, "local_steps": steps, "checkpoint_every": steps},
            "dataset": {"digest": "00" * 32, "shards": 1},
        }
    )  # fmt: skip


@dataclass
class Owner:
    """The owner's trained model for one split, and what crossed the wire while training it."""

    state: State
    accuracy: float
    messages: list[bytes]


def accuracy(module: nn.Sequential, data: Dataset) -> float:
    module.eval()
    with torch.no_grad():
        return float((module(data.features()).argmax(1) == data.y).float().mean())


def loaded(spec: sp.TaskSpec, state: State) -> nn.Sequential:
    module = build_module(spec.model, check=False)
    module.load_state_dict(state, strict=True)
    return module


def public_state(state: State, plan: SplitPlan | None) -> State:
    if plan is None:
        return dict(state)
    return {k: v for k, v in state.items() if int(k.split(".")[0]) in plan.middle}


def fit(module: nn.Sequential, params: Iterable[nn.Parameter], data: Dataset, steps: int, seed: int) -> nn.Sequential:
    """SGD on ``data`` (batches of up to 32 drawn with a seeded generator) for ``steps`` steps."""
    params = list(params)
    if not params or steps == 0:
        return module
    optimizer = torch.optim.SGD(params, lr=0.05, momentum=0.9)
    g = torch.Generator().manual_seed(seed)
    rows = min(32, len(data))
    module.train()
    for _ in range(steps):
        index = torch.randint(0, len(data), (rows,), generator=g)
        optimizer.zero_grad()
        F.cross_entropy(module(data.features(index)), data.y[index]).backward()  # type: ignore[no-untyped-call]
        optimizer.step()
    return module


def private_params(module: nn.Sequential, plan: SplitPlan | None) -> list[nn.Parameter]:
    if plan is None:
        return []
    return [p for i in [*plan.stem, *plan.head] for p in module[i].parameters()]


def frozen_but_private(module: nn.Sequential, plan: SplitPlan | None) -> nn.Sequential:
    """Only the private layers train; the public part stays as it was given."""
    for p in module.parameters():
        p.requires_grad_(False)
    for p in private_params(module, plan):
        p.requires_grad_(True)
    return module


def attacker(spec: sp.TaskSpec, public: State, seed: int) -> nn.Sequential:
    """The model with the public part loaded and the private layers freshly drawn."""
    module = build_module(spec.model, seed=1_000 + seed, check=False)
    module.load_state_dict(public, strict=False)
    return module


def train_owner(spec: sp.TaskSpec, plan: SplitPlan | None, train: Dataset, test: Dataset, omnilytics: bool) -> Owner:
    initial = state_of(build_module(spec.model, seed=0))
    if plan is None:
        state = train_unit(spec, initial, train, UNIT_SEED).final_model
        return Owner(state, accuracy(loaded(spec, state), test), [])
    if omnilytics:
        # The miner trains the middle with its own stand-in stem and head; the owner, its private layers on it.
        stand_in = train_unit(spec, state_of(build_module(spec.model, seed=99)), train, UNIT_SEED).final_model
        module = attacker(spec, public_state(stand_in, plan), 0)
        module.load_state_dict({k: v for k, v in initial.items() if k not in public_state(initial, plan)}, strict=False)
        frozen_but_private(module, plan)
        fit(module, private_params(module, plan), train, spec.training.local_steps, seed=0)
        return Owner(state_of(module), accuracy(module, test), [])
    owner = OwnerUnit(spec, plan, initial, train, UNIT_SEED)
    trail = train_middle(spec, plan, middle_of(spec, plan, initial), owner, UNIT_SEED, len(train))
    state = combine(owner.private_state(), trail.checkpoints[-1].model, plan)
    return Owner(state, accuracy(loaded(spec, state), test), trail.messages)


def wire_pretrain(module: nn.Sequential, plan: SplitPlan, messages: list[bytes], train: Dataset, seed: int) -> None:
    """A2: the private layers fitted to the recorded traffic (the public part stays frozen)."""
    batch = 32
    steps = len(messages) // 4
    g = torch.Generator().manual_seed(seed)
    stem = nn.Sequential(*(module[i] for i in plan.stem))
    if any(True for _ in stem.parameters()):
        optimizer = torch.optim.Adam(stem.parameters(), lr=1e-2)
        for _ in range(2):
            for step in torch.randperm(steps, generator=g).tolist():
                index = batch_indices(len(train), batch, UNIT_SEED, step)  # the public seed names the batch
                target = decode(messages[4 * step], Kind.ACTIVATIONS, step, (len(index), *plan.cut_in))
                optimizer.zero_grad()
                F.mse_loss(stem(train.features(index)), target).backward()  # type: ignore[no-untyped-call]
                optimizer.step()
    head = nn.Sequential(*(module[i] for i in plan.head))
    if any(True for _ in head.parameters()):
        labels = torch.zeros(steps, batch, 10, requires_grad=True)  # unknown: recovered with the head
        optimizer = torch.optim.Adam([*head.parameters(), labels], lr=1e-2)
        for _ in range(2):
            for step in torch.randperm(steps, generator=g).tolist():
                out = decode(messages[4 * step + 1], Kind.OUTPUT, step, (batch, *plan.cut_out)).requires_grad_(True)
                seen = decode(messages[4 * step + 2], Kind.GRADIENT_OUT, step, (batch, *plan.cut_out))
                loss = F.cross_entropy(head(out), labels[step].softmax(1))
                (ours,) = torch.autograd.grad(loss, out, create_graph=True)
                optimizer.zero_grad()
                F.mse_loss(ours * batch, seen * batch).backward()  # type: ignore[no-untyped-call]
                optimizer.step()


def steps_to(
    module: nn.Sequential, params: list[nn.Parameter], train: Dataset, test: Dataset, goal: float, cap: int
) -> int:
    """A3: training steps on the whole training set until test accuracy reaches ``goal`` (or the cap)."""
    done = 0
    while done < cap:
        if accuracy(module, test) >= goal:
            return done
        fit(module, params, train, A3_EVERY, seed=done)
        done += A3_EVERY
    return cap if accuracy(module, test) < goal else done


def gap(att: float, scratch: float, owner: float) -> float:
    return (att - scratch) / (owner - scratch) if owner != scratch else float("nan")


def med(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=len(SEEDS), help=f"attackers per figure (default {len(SEEDS)})")
    parser.add_argument("--ks", default=",".join(map(str, KS)), help="labelled samples the attacker holds")
    parser.add_argument("--owner-steps", type=int, default=OWNER_STEPS, help="the owner's training steps")
    parser.add_argument("--attack-steps", type=int, default=ATTACK_STEPS, help="the attacker's training steps")
    parser.add_argument("--a3-max-steps", type=int, default=A3_MAX_STEPS, help="A3 stops here")
    parser.add_argument("--network-steps", type=int, default=200, help="steps per unit of the network task")
    args = parser.parse_args()
    seeds, ks = range(args.seeds), tuple(int(k) for k in args.ks.split(","))
    attack_steps, a3_cap = args.attack_steps, args.a3_max_steps
    torch.set_num_threads(1)
    data = digits()
    parts = split(data, shards=1, seed=1, holdout_fraction=0.2)
    train, test = parts.shards[0], parts.test
    models = {"cnn": digits_cnn_model(), "mlp4": mlp4()}
    rows: list[list[object]] = []
    figures: dict[str, dict[str, object]] = {
        key: {}
        for key in ("owner_accuracy_plain", "owner_accuracy_split", "split_step_ratio", "gap_closed", "a3_steps",
                    "owner_share", "bytes_per_step")
    }  # fmt: skip
    for name, model in models.items():
        spec = task_spec(model, args.owner_steps)
        train_owner(spec, None, train, test, omnilytics=False)  # warm-up: the timings below compare steady states
        started = time.perf_counter()
        plain = train_owner(spec, None, train, test, omnilytics=False)
        plain_s = time.perf_counter() - started
        scratch: dict[tuple[int, int], float] = {}
        for seed in seeds:
            for k in ks:
                few = train.subset(torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:k])
                module = build_module(spec.model, seed=1_000 + seed, check=False)
                scratch[(seed, k)] = accuracy(fit(module, module.parameters(), few, attack_steps, seed), test)
        figures["owner_accuracy_plain"][name] = round(plain.accuracy, 4)
        for split_name, (n, m) in SPLITS.items():
            plan = None if n + m == 0 else plan_split(model, sp.PrivacySpec(mode="split", private_prefix=n,
                                                                             private_suffix=m))  # fmt: skip
            omni = split_name == "omnilytics"
            started = time.perf_counter()
            owner = plain if plan is None else train_owner(spec, plan, train, test, omnilytics=omni)
            owner_s = time.perf_counter() - started
            if split_name == "stem+head":
                figures["owner_accuracy_split"][name] = round(owner.accuracy, 4)
                figures["split_step_ratio"][name] = round(owner_s / plain_s, 2)
                figures["owner_share"][name] = round(plan.owner_share, 3) if plan else 0.0
                figures["bytes_per_step"][name] = sum(len(m) for m in owner.messages[:4])
            public = public_state(owner.state, plan)
            gaps: dict[str, dict[int, list[float]]] = {"A1 frozen": {}, "A1 fine-tuned": {}, "A2": {}}
            for seed in seeds:
                wired_state = None
                if plan is not None and owner.messages:  # A2's stand-ins, fitted to the traffic once per seed
                    wired = frozen_but_private(attacker(spec, public, seed), plan)
                    wire_pretrain(wired, plan, owner.messages, train, seed)
                    wired_state = state_of(wired)
                for k in ks:
                    few = train.subset(torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:k])
                    frozen = frozen_but_private(attacker(spec, public, seed), plan)
                    a_frozen = accuracy(fit(frozen, private_params(frozen, plan), few, attack_steps, seed), test)
                    tuned = attacker(spec, public, seed)
                    a_tuned = accuracy(fit(tuned, list(tuned.parameters()), few, attack_steps, seed), test)
                    s = scratch[(seed, k)]
                    gaps["A1 frozen"].setdefault(k, []).append(gap(a_frozen, s, owner.accuracy))
                    gaps["A1 fine-tuned"].setdefault(k, []).append(gap(a_tuned, s, owner.accuracy))
                    if plan is not None and wired_state is not None:
                        wired = frozen_but_private(loaded(spec, wired_state), plan)
                        a_wire = accuracy(fit(wired, private_params(wired, plan), few, attack_steps, seed), test)
                        gaps["A2"].setdefault(k, []).append(gap(a_wire, s, owner.accuracy))
            a3_public, a3_scratch = [], []
            goal = 0.95 * owner.accuracy
            for seed in seeds:
                module = attacker(spec, public, seed)
                a3_public.append(steps_to(module, list(module.parameters()), train, test, goal, a3_cap))
                fresh = build_module(spec.model, seed=1_000 + seed, check=False)
                a3_scratch.append(steps_to(fresh, list(fresh.parameters()), train, test, goal, a3_cap))
            figures["a3_steps"][f"{name}/{split_name}"] = {
                "from_public": statistics.median(a3_public),
                "from_scratch": statistics.median(a3_scratch),
            }
            for attack, by_k in gaps.items():
                for k, values in by_k.items():
                    g_med, g_min, g_max = med(values)
                    figures["gap_closed"][f"{name}/{split_name}/{attack}/k={k}"] = round(g_med, 3)
                    a3 = f"{statistics.median(a3_public):.0f} / {statistics.median(a3_scratch):.0f}"
                    scratch_k = statistics.median(scratch[(s, k)] for s in seeds)
                    rows.append([name, split_name, f"{owner.accuracy:.3f}", attack, k, f"{scratch_k:.3f}",
                                 f"{g_med:.2f} [{g_min:.2f}, {g_max:.2f}]", a3])  # fmt: skip
            print(f"{name} {split_name}: owner {owner.accuracy:.3f} in {owner_s:.1f} s", flush=True)
    print_table(["model", "split", "owner acc", "attack", "k", "scratch acc", "gap closed G (median [min, max])",
                 "A3 steps public / scratch"], rows)  # fmt: skip
    _plot(figures, ks)
    emit("bench_privacy", {**figures, **network_run(args.network_steps)})


def network_run(local_steps: int) -> dict[str, object]:
    """The same CNN task on a whole local network, plain then split: task wall times and accuracies."""
    from rich.console import Console

    from client.demo import DemoConfig, run_demo

    config = DemoConfig(miners=2, verifiers=3, units=2, rounds=2, quorum=1, local_steps=local_steps, privacy="split")
    with tempfile.TemporaryDirectory() as tmp, open(Path(tmp) / "demo.txt", "w") as out:
        result = run_demo(Console(file=out), Path(tmp) / "demo", config)
    assert result.split is not None
    last = max(result.figures)
    rows = [["plain", f"{result.split.plain_task_s:.1f}", f"{result.figures[last]:.4f}"],
            ["split", f"{result.split.split_task_s:.1f}", f"{result.split.owner_accuracy[last]:.4f}"]]  # fmt: skip
    print_table(
        [f"CNN task on a local network (2 rounds × 2 units × {local_steps} steps)", "wall s", "final accuracy"], rows
    )
    print(f"split_overhead_ratio {result.split.overhead:.2f}")
    return {
        "split_overhead_ratio": round(result.split.overhead, 2),
        "network_task_s": {"plain": round(result.split.plain_task_s, 1), "split": round(result.split.split_task_s, 1)},
        "network_accuracy": {"plain": result.figures[last], "split_owner": result.split.owner_accuracy[last]},
    }


def _plot(figures: dict[str, dict[str, object]], ks: tuple[int, ...]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, model in zip(axes, ("cnn", "mlp4"), strict=True):
        for split_name in SPLITS:
            if split_name == "public":
                continue
            for attack, style in (("A1 frozen", "-"), ("A2", "--")):
                ys = [figures["gap_closed"].get(f"{model}/{split_name}/{attack}/k={k}") for k in ks]
                if any(y is not None for y in ys):
                    ax.plot(ks, ys, style, marker="o", label=f"{split_name} {attack}")
        ax.set_xscale("log")
        ax.set_title(f"{model}: gap closed by an attacker")
        ax.set_xlabel("labelled samples k")
        ax.axhline(0, color="grey", lw=0.5)
        ax.axhline(1, color="grey", lw=0.5)
    axes[0].set_ylabel("G = (attacker − scratch) / (owner − scratch)")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(results_dir() / "bench_privacy.png", dpi=110)


if __name__ == "__main__":
    main()
