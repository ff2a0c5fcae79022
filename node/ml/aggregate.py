"""Robust aggregation of a round's accepted results into the next global model (DESIGN.md §6).

Deterministic: inputs in unit-index order, arithmetic in float64 then cast back, and the CRFL-style noise drawn
from a generator seeded by (task, round). Every rule returns a full state (parameters and buffers).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from node.ml import spec as sp
from node.ml.model import State, relative_distance


@dataclass(frozen=True, slots=True)
class Contribution:
    index: int
    model: State
    samples: int


def _stack(models: Sequence[State], key: str) -> torch.Tensor:
    return torch.stack([m[key].to(torch.float64) for m in models])


def _cast_like(value: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    if like.is_floating_point():
        return value.to(like.dtype)
    return torch.round(value).to(like.dtype)


def fedavg(models: Sequence[State], weights: Sequence[float]) -> State:
    total = float(sum(weights))
    w = torch.tensor([float(x) / total for x in weights], dtype=torch.float64)
    out: State = {}
    for key in sorted(models[0]):
        stacked = _stack(models, key)
        mean = torch.tensordot(w, stacked, dims=1)
        out[key] = _cast_like(mean, models[0][key])
    return out


def median(models: Sequence[State]) -> State:
    """Coordinate-wise median (the mean of the two middle values for an even count)."""
    return {k: _cast_like(torch.quantile(_stack(models, k), 0.5, dim=0), models[0][k]) for k in sorted(models[0])}


def trimmed_mean(models: Sequence[State], beta: float) -> State:
    """Per coordinate, drop the ⌊βn⌋ largest and smallest values and average the rest."""
    n = len(models)
    k = math.floor(beta * n)
    if n - 2 * k < 1:
        raise ValueError(f"trimmed mean with beta={beta} leaves nothing of {n} inputs")
    out: State = {}
    for key in sorted(models[0]):
        ordered, _ = torch.sort(_stack(models, key), dim=0, stable=True)
        out[key] = _cast_like(ordered[k : n - k].mean(dim=0), models[0][key])
    return out


def _flat(model: State) -> torch.Tensor:
    return torch.cat([v.reshape(-1).to(torch.float64) for _, v in sorted(model.items()) if v.is_floating_point()])


def krum_selection(models: Sequence[State], f: int, m: int) -> list[int]:
    """Multi-Krum: the ``m`` inputs whose ``n − f − 2`` nearest neighbours are closest (ties to the lower index)."""
    n = len(models)
    if n <= 2 * f + 2:
        raise ValueError(f"multi-Krum needs more than 2f + 2 = {2 * f + 2} inputs, got {n}")
    vectors = torch.stack([_flat(x) for x in models])
    distances = torch.cdist(vectors, vectors) ** 2
    neighbours = n - f - 2
    scores = []
    for i in range(n):
        others = torch.cat([distances[i, :i], distances[i, i + 1 :]])
        scores.append((float(torch.sort(others).values[:neighbours].sum()), i))
    return sorted(i for _, i in sorted(scores)[:m])


def multikrum(models: Sequence[State], weights: Sequence[float], f: int, m: int) -> State:
    chosen = krum_selection(models, f, m)
    return fedavg([models[i] for i in chosen], [weights[i] for i in chosen])


def round_seed(task_id: int, round_: int) -> int:
    digest = hashlib.sha256(b"dmlnet/global-noise" + task_id.to_bytes(32, "big") + round_.to_bytes(8, "big")).digest()
    return int.from_bytes(digest[:8], "big") & (2**63 - 1)


def smooth(state: State, parameter_keys: set[str], global_spec: sp.GlobalModelSpec, seed: int) -> State:
    """CRFL-style: clip the parameters' joint L2 norm to ``clip_norm``, then add N(0, noise_std²) noise."""
    out = {k: v.clone() for k, v in state.items()}
    keys = sorted(k for k in parameter_keys if k in out)
    if global_spec.clip_norm is not None:
        norm = math.sqrt(sum(float(out[k].to(torch.float64).pow(2).sum()) for k in keys))
        if norm > global_spec.clip_norm:
            scale = global_spec.clip_norm / norm
            for k in keys:
                out[k] = (out[k].to(torch.float64) * scale).to(out[k].dtype)
    if global_spec.noise_std > 0:
        g = torch.Generator().manual_seed(seed)
        for k in keys:
            noise = torch.randn(out[k].shape, generator=g, dtype=torch.float64) * global_spec.noise_std
            out[k] = (out[k].to(torch.float64) + noise).to(out[k].dtype)
    return out


def aggregate(
    spec: sp.TaskSpec, contributions: Sequence[Contribution], parameter_keys: set[str], *, task_id: int, round_: int
) -> State:
    """The next global model from the round's accepted results, by the spec's rule, then smoothed."""
    ordered = sorted(contributions, key=lambda c: c.index)
    models = [c.model for c in ordered]
    weights = [float(c.samples) for c in ordered]
    rule = spec.aggregation
    if isinstance(rule, sp.FedAvg):
        combined = fedavg(models, weights)
    elif isinstance(rule, sp.Median):
        combined = median(models)
    elif isinstance(rule, sp.TrimmedMean):
        combined = trimmed_mean(models, rule.beta)
    else:
        combined = multikrum(models, weights, rule.f, rule.m)
    return smooth(combined, parameter_keys, spec.global_model, round_seed(task_id, round_))


@dataclass(frozen=True, slots=True)
class AggregateCheck:
    valid: bool
    distance: float
    reason: str


def verify_aggregate(
    spec: sp.TaskSpec,
    contributions: Sequence[Contribution],
    claimed: State,
    parameter_keys: set[str],
    *,
    task_id: int,
    round_: int,
) -> AggregateCheck:
    """Recomputes the aggregate over the accepted results (as read from the chain) and compares."""
    expected = aggregate(spec, contributions, parameter_keys, task_id=task_id, round_=round_)
    distance = relative_distance(claimed, expected)
    if distance <= spec.tolerance:
        return AggregateCheck(True, distance, f"aggregate recomputed, relative distance {distance:.3g}")
    return AggregateCheck(
        False, distance, f"aggregate differs from the recomputation: relative distance {distance:.3g}"
    )
