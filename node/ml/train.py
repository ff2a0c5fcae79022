"""Deterministic training of one unit into a checkpoint trail, and re-execution of any segment of it.

Every step draws its batch and its dropout masks from a seed derived from (unit seed, step) alone, so a segment
can be re-executed from its starting checkpoint without replaying what came before, on any hardware.
Deterministic algorithms are on and the thread count is fixed for the duration of the run.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812 - torch's own convention
from torch import nn

from node.ml import spec as sp
from node.ml.data import Dataset
from node.ml.device import CPU, Hardware
from node.ml.model import GLOBAL_GENERATOR, State, build_module
from node.ml.optim import OptState, apply, initial_state


@dataclass(frozen=True, slots=True)
class Checkpoint:
    step: int
    model: State
    optimizer: OptState


@dataclass(frozen=True, slots=True)
class Trail:
    checkpoints: list[Checkpoint]
    segment_losses: list[float]
    samples: int
    # What it was trained on (recorded in the manifest). A verifier re-executes on its own hardware: other thread
    # counts and devices round differently, within the distance the tolerance was calibrated for.
    hardware: Hardware = CPU

    @property
    def threads(self) -> int:
        return self.hardware.threads

    @property
    def final_model(self) -> State:
        return self.checkpoints[-1].model


def step_seed(unit_seed: bytes, step: int, purpose: bytes) -> int:
    """A 63-bit seed for one step and purpose (b"batch" or b"dropout")."""
    digest = hashlib.sha256(unit_seed + purpose + step.to_bytes(8, "big")).digest()
    return int.from_bytes(digest[:8], "big") & (2**63 - 1)


class _SharedTorchSettings:
    """Torch's thread count and deterministic mode are process-wide. Nodes running as threads of one process (a
    swarm in tests and benchmarks) must not change them under each other: they are set by the first thread that
    trains and restored when the last one leaves. (The seeded dropout of a step is guarded by GLOBAL_GENERATOR.)"""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.saved: tuple[int, bool] = (0, False)

    @contextlib.contextmanager
    def held(self, threads: int) -> Iterator[None]:
        with self.lock:
            if self.users == 0:
                self.saved = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())
            self.users += 1
            torch.set_num_threads(threads)
            torch.use_deterministic_algorithms(True)
        try:
            yield
        finally:
            with self.lock:
                self.users -= 1
                if self.users == 0:
                    torch.use_deterministic_algorithms(self.saved[1])
                    torch.set_num_threads(self.saved[0])


_TORCH_SETTINGS = _SharedTorchSettings()


def deterministic(threads: int = 1) -> contextlib.AbstractContextManager[None]:
    """Deterministic algorithms on and ``threads`` intra-op threads, restored when the last user leaves."""
    return _TORCH_SETTINGS.held(threads)


def batch_indices(n: int, batch_size: int, unit_seed: bytes, step: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(step_seed(unit_seed, step, b"batch"))
    order = torch.randperm(n, generator=g)
    return order[: min(batch_size, n)]


def loss_of(kind: str, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The spec's loss of a batch (the one definition: plain training, split training, evaluation of a step)."""
    if kind == "cross_entropy":  # a logit per class (N, C), or per vocabulary entry at every position (N, T, V)
        return F.cross_entropy(output.flatten(0, -2), target.flatten())
    return F.mse_loss(output.reshape(target.shape), target.to(output.dtype))


class Runner:
    """A module and optimizer state positioned at a checkpoint on ``device``, advanced step by step: the gradients
    of the step's batch, then the optimizer's update (two calls, so that calibration can model a cheat that reuses a
    gradient: :mod:`node.ml.calibrate`)."""

    def __init__(
        self,
        spec: sp.TaskSpec,
        start: Checkpoint,
        module: nn.Sequential | None = None,
        device: torch.device = CPU.torch_device,
    ) -> None:
        self.spec = spec
        self.device = device
        self.module: nn.Sequential = module if module is not None else build_module(spec.model, check=False)
        self.module.to(device)
        self.module.load_state_dict(start.model, strict=True)
        self.params = dict(self.module.named_parameters())
        self.state: OptState = {k: v.to(device, copy=True) for k, v in start.optimizer.items()}
        self.step = start.step

    def gradients(self, shard: Dataset, unit_seed: bytes) -> tuple[float, dict[str, torch.Tensor]]:
        """The loss and gradients of this step's batch, its dropout masks drawn from the step's seed."""
        index = batch_indices(len(shard), self.spec.training.batch_size, unit_seed, self.step)
        x, y = shard.features(index).to(self.device), shard.y[index].to(self.device)
        self.module.train()
        self.module.zero_grad(set_to_none=True)
        # Dropout draws from the default generator: seed it for this step, and let no other thread draw from it
        # in between (the lock), nor see it changed afterwards (fork_rng restores it).
        with GLOBAL_GENERATOR, torch.random.fork_rng(devices=[]):
            # The CPU generator only: torch.manual_seed also seeds every accelerator backend, at ~1 ms a call.
            torch.default_generator.manual_seed(step_seed(unit_seed, self.step, b"dropout"))
            loss = loss_of(self.spec.training.loss, self.module(x), y)
        loss.backward()  # type: ignore[no-untyped-call]
        grads = {name: p.grad if p.grad is not None else torch.zeros_like(p) for name, p in self.params.items()}
        return float(loss.item()), grads

    def update(self, grads: dict[str, torch.Tensor]) -> None:
        apply(self.spec.training.optimizer, self.params, grads, self.state)
        self.step += 1

    def advance(self, shard: Dataset, unit_seed: bytes) -> float:
        loss, grads = self.gradients(shard, unit_seed)
        self.update(grads)
        return loss

    def checkpoint(self) -> Checkpoint:
        model = {k: v.detach().to("cpu", copy=True) for k, v in sorted(self.module.state_dict().items())}
        return Checkpoint(self.step, model, {k: v.to("cpu", copy=True) for k, v in sorted(self.state.items())})


def first_checkpoint(spec: sp.TaskSpec, input_model: State) -> Checkpoint:
    """Step 0: the round's input model and a fresh optimizer state."""
    module = build_module(spec.model, check=False)
    module.load_state_dict(input_model, strict=True)
    params = {k: v.detach() for k, v in module.named_parameters()}
    model = {k: v.detach().clone() for k, v in sorted(module.state_dict().items())}
    return Checkpoint(0, model, dict(sorted(initial_state(spec.training.optimizer, params).items())))


def run_segment(
    spec: sp.TaskSpec,
    start: Checkpoint,
    end_step: int,
    shard: Dataset,
    unit_seed: bytes,
    *,
    module: nn.Sequential | None = None,
    device: torch.device = CPU.torch_device,
) -> tuple[Checkpoint, float]:
    """Re-executes the steps [start.step, end_step) on ``device``; returns the checkpoint reached (on the CPU) and
    the mean loss. ``module`` (of this spec) is reused when given: its weights are overwritten from ``start``."""
    runner = Runner(spec, start, module, device)
    losses = [runner.advance(shard, unit_seed) for _ in range(start.step, end_step)]
    return runner.checkpoint(), sum(losses) / max(len(losses), 1)


def train_unit(
    spec: sp.TaskSpec, input_model: State, shard: Dataset, unit_seed: bytes, *, hardware: Hardware = CPU
) -> Trail:
    """Trains ``local_steps`` steps on ``hardware``, keeping a checkpoint at every ``checkpoint_every`` and at the
    end."""
    with deterministic(hardware.threads):
        current = first_checkpoint(spec, input_model)
        checkpoints = [current]
        losses: list[float] = []
        runner = Runner(spec, current, device=hardware.torch_device)
        steps = spec.training.checkpoint_steps
        for end in steps[1:]:
            segment = [runner.advance(shard, unit_seed) for _ in range(runner.step, end)]
            losses.append(sum(segment) / len(segment))
            checkpoints.append(runner.checkpoint())
    return Trail(checkpoints=checkpoints, segment_losses=losses, samples=len(shard), hardware=hardware)
