"""Calibrating a task's verification tolerance on real arithmetic, not assuming it.

Two distances decide whether a tolerance is safe. The *honest* one: a segment trained one way and re-executed
another — on another thread count (a reduction split otherwise rounds otherwise), with torch's fast rather than
its deterministic kernels, on another device where one is present. The *cheat* one: a segment whose claimed
checkpoint comes from the cheapest ways to do less or worse work than the spec says — one step skipped in the
segment, bf16 arithmetic for fp32, half the batch, a stale gradient reused for a step, a lower learning rate. A
tolerance separates them when it sits above every honest distance and below every cheat's; the proposed one is
their geometric middle, with its margin on each side (how many times the largest honest distance it is, and how
many times smaller than the smallest cheat's).

Distances are the verifier's: relative L2 over the model and optimizer state together (:mod:`node.ml.verify`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch

from node.ml import spec as sp
from node.ml.data import Dataset
from node.ml.device import Hardware, best_device, cores
from node.ml.model import State, relative_distance
from node.ml.train import Checkpoint, Runner, deterministic, run_segment, train_unit

HONEST = ("other threads", "fast kernels", "other device")
CHEATS = ("skip a step", "bf16 for fp32", "half the batch", "stale gradient", "lower learning rate")
LOWER_LR = 0.9  # the cheat's learning rate, as a share of the spec's: a small change is the hardest to see


@dataclass(frozen=True, slots=True)
class Calibration:
    """The distances measured per way (honest and cheat), and the tolerance they leave room for."""

    honest: dict[str, list[float]]
    cheats: dict[str, list[float]]
    segments: int
    hardware: str
    current: float = 0.0  # the spec's tolerance today
    notes: list[str] = field(default_factory=list)

    @property
    def worst_honest(self) -> float:
        return max((d for ds in self.honest.values() for d in ds), default=0.0)

    @property
    def closest_cheat(self) -> float:
        return min((d for ds in self.cheats.values() for d in ds), default=math.inf)

    @property
    def separates(self) -> bool:
        return self.worst_honest < self.closest_cheat

    @property
    def proposed(self) -> float:
        """The geometric middle of the largest honest and the smallest cheat distance (a floor of 1e-9 under an
        exact honest re-execution), rounded to two significant digits, within the spec's bounds."""
        low = max(self.worst_honest, 1e-9)
        high = self.closest_cheat
        middle = math.sqrt(low * high) if math.isfinite(high) else low * 1e3
        return min(float(f"{middle:.2g}"), 0.1)

    def margins(self, tolerance: float | None = None) -> tuple[float, float]:
        """(tolerance ÷ largest honest distance, smallest cheat distance ÷ tolerance): both above 1 when safe."""
        t = self.proposed if tolerance is None else tolerance
        return t / max(self.worst_honest, 1e-12), self.closest_cheat / t

    def false_rejects(self, tolerance: float) -> int:
        return sum(1 for ds in self.honest.values() for d in ds if not d <= tolerance)

    def cheats_rejected(self, tolerance: float) -> bool:
        return all(d > tolerance for ds in self.cheats.values() for d in ds)

    def as_json(self) -> dict[str, object]:
        honest_low, cheat_high = self.margins()
        return {
            "segments": self.segments,
            "hardware": self.hardware,
            "worst_honest": {k: max(v, default=0.0) for k, v in self.honest.items()},
            "closest_cheat": {k: min(v, default=math.inf) for k, v in self.cheats.items()},
            "largest_honest_distance": self.worst_honest,
            "smallest_cheat_distance": self.closest_cheat,
            "separates": self.separates,
            "proposed_tolerance": self.proposed,
            "margin_over_honest": honest_low,
            "margin_under_cheats": cheat_high,
            "current_tolerance": self.current,
            "notes": self.notes,
        }


def _joined(c: Checkpoint) -> State:
    return {**{f"model/{k}": v for k, v in c.model.items()}, **{f"optim/{k}": v for k, v in c.optimizer.items()}}


@contextlib.contextmanager
def _fast_kernels() -> Iterator[None]:
    was = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(False)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was)


Segment = Callable[[sp.TaskSpec, Checkpoint, int, Dataset, bytes], Checkpoint]


def _plain(spec: sp.TaskSpec, start: Checkpoint, end: int, shard: Dataset, seed: bytes) -> Checkpoint:
    return run_segment(spec, start, end, shard, seed)[0]


def _skip(spec: sp.TaskSpec, start: Checkpoint, end: int, shard: Dataset, seed: bytes) -> Checkpoint:
    """Trains every step but the segment's last one, and labels the result as the end of the segment."""
    reached = run_segment(spec, start, end - 1, shard, seed)[0] if end - 1 > start.step else start
    optimizer = dict(reached.optimizer)
    if "step" in optimizer:
        optimizer["step"] = optimizer["step"] + (end - reached.step)
    return Checkpoint(end, reached.model, optimizer)


def _bf16(spec: sp.TaskSpec, start: Checkpoint, end: int, shard: Dataset, seed: bytes) -> Checkpoint:
    with torch.autocast("cpu", dtype=torch.bfloat16):
        return run_segment(spec, start, end, shard, seed)[0]


def _half_batch(spec: sp.TaskSpec, start: Checkpoint, end: int, shard: Dataset, seed: bytes) -> Checkpoint:
    training = spec.training.model_copy(update={"batch_size": max(1, spec.training.batch_size // 2)})
    return run_segment(spec.model_copy(update={"training": training}), start, end, shard, seed)[0]


def _stale(spec: sp.TaskSpec, start: Checkpoint, end: int, shard: Dataset, seed: bytes) -> Checkpoint:
    """Computes a gradient every other step and reuses it for the next one."""
    runner = Runner(spec, start)
    grads: dict[str, torch.Tensor] = {}
    while runner.step < end:
        if not grads or (runner.step - start.step) % 2 == 0:
            _, fresh = runner.gradients(shard, seed)
            grads = {k: v.clone() for k, v in fresh.items()}
        runner.update(grads)
    return runner.checkpoint()


def _lower_lr(spec: sp.TaskSpec, start: Checkpoint, end: int, shard: Dataset, seed: bytes) -> Checkpoint:
    optimizer = spec.training.optimizer.model_copy(update={"lr": spec.training.optimizer.lr * LOWER_LR})
    training = spec.training.model_copy(update={"optimizer": optimizer})
    return run_segment(spec.model_copy(update={"training": training}), start, end, shard, seed)[0]


_CHEAT_RUNS: dict[str, Segment] = {
    "skip a step": _skip,
    "bf16 for fp32": _bf16,
    "half the batch": _half_batch,
    "stale gradient": _stale,
    "lower learning rate": _lower_lr,
}


def calibrate(
    spec: sp.TaskSpec,
    model: State,
    shards: list[Dataset],
    *,
    units: int = 1,
    threads: int | None = None,
    seed: bytes = b"calibration",
) -> Calibration:
    """Trains ``units`` units (on the shards in turn) at ``threads`` (default: every core, at least 2) and measures
    every segment of each: re-executed at 1 thread, with the fast kernels, on another device when one is present
    (the honest distances), and claimed by each cheat (its distance to the honest re-execution)."""
    many = max(2, cores()) if threads is None else threads
    honest: dict[str, list[float]] = {name: [] for name in HONEST}
    cheats: dict[str, list[float]] = {name: [] for name in CHEATS}
    other = best_device()
    notes: list[str] = []
    if other == "cpu":
        del honest["other device"]
        notes.append("no GPU or MPS device here: the CPU-to-accelerator distance was not measured")
    count = 0
    for u in range(units):
        shard = shards[u % len(shards)]
        unit_seed = seed + u.to_bytes(4, "big")
        trail = train_unit(spec, model, shard, unit_seed, hardware=Hardware(threads=many))
        for a, b in zip(trail.checkpoints, trail.checkpoints[1:], strict=False):
            count += 1
            claimed = _joined(b)
            with deterministic(1):
                verifier = run_segment(spec, a, b.step, shard, unit_seed)[0]
                honest["other threads"].append(relative_distance(_joined(verifier), claimed))
                with _fast_kernels():
                    fast = run_segment(spec, a, b.step, shard, unit_seed)[0]
                honest["fast kernels"].append(relative_distance(_joined(fast), claimed))
                if other != "cpu":
                    moved = run_segment(spec, a, b.step, shard, unit_seed, device=torch.device(other))[0]
                    honest["other device"].append(relative_distance(_joined(moved), claimed))
                for name, run in _CHEAT_RUNS.items():
                    cheats[name].append(
                        relative_distance(_joined(verifier), _joined(run(spec, a, b.step, shard, unit_seed)))
                    )
    hardware = f"cpu: {many} vs 1 threads" + (f"; {other}" if other != "cpu" else "")
    return Calibration(honest, cheats, count, hardware, spec.tolerance, notes)
