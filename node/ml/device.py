"""The hardware a node trains and re-executes on: intra-op threads and a torch device.

A miner trains on what it has; a verifier re-executes on what it has. The two need not match: a segment re-executed
on other threads or another device lands within a distance the task's tolerance was calibrated for (see
:mod:`node.ml.calibrate`), while the unit seed still fixes every batch and every dropout mask (masks are drawn on
the CPU whatever the device: :class:`node.ml.layers.Dropout`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

import torch

from node.errors import ConfigError

DeviceName = Literal["cpu", "cuda", "mps"]
DEVICES: tuple[DeviceName, ...] = ("cpu", "cuda", "mps")


def cores() -> int:
    """The cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def present(name: DeviceName) -> bool:
    if name == "cuda":
        return bool(torch.cuda.is_available())
    if name == "mps":
        return bool(torch.backends.mps.is_available())
    return True


def best_device() -> DeviceName:
    """The fastest device present: CUDA, then Apple's MPS, then the CPU."""
    return next(name for name in ("cuda", "mps", "cpu") if present(name))


@dataclass(frozen=True, slots=True)
class Hardware:
    """Where a node's torch work runs: ``threads`` intra-op CPU threads and ``device``."""

    threads: int = 1
    device: DeviceName = "cpu"

    @property
    def torch_device(self) -> torch.device:
        return torch.device(self.device)

    def describe(self) -> str:
        return f"{self.device}, {self.threads} thread{'s' if self.threads != 1 else ''}"


def hardware(threads: int | None = None, device: str | None = None) -> Hardware:
    """The node's hardware from its settings: ``threads`` None is every core, ``device`` None the best present; a
    device that is not present is refused by name."""
    if device is not None and device not in DEVICES:
        raise ConfigError(f"--device {device}: expected one of {', '.join(DEVICES)}")
    name: DeviceName = best_device() if device is None else device
    if not present(name):
        raise ConfigError(f"--device {name}: no {name} device on this machine (present: {best_device()})")
    if name == "cuda":
        # Deterministic cuBLAS needs a fixed workspace (torch refuses deterministic mode without it).
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return Hardware(threads=cores() if threads is None else threads, device=name)


CPU = Hardware()
