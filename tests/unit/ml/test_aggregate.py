"""Aggregation rules on hand-computed cases, and under Byzantine inputs where they claim robustness."""

from __future__ import annotations

import pytest
import torch

from node.ml import spec as sp
from node.ml.aggregate import (
    Contribution,
    aggregate,
    fedavg,
    krum_selection,
    median,
    multikrum,
    round_seed,
    smooth,
    trimmed_mean,
    verify_aggregate,
)
from node.ml.model import State, relative_distance
from testkit.world import small_spec


def m(*values: float, count: int = 0) -> State:
    return {"w": torch.tensor(values, dtype=torch.float32), "n": torch.tensor(count, dtype=torch.int64)}


def test_fedavg_is_weighted_by_samples() -> None:
    out = fedavg([m(0.0, 4.0, count=2), m(3.0, 1.0, count=4)], [1, 2])
    assert out["w"].tolist() == [2.0, 2.0]
    assert out["n"].item() == 3  # (2·1 + 4·2) / 3 = 3.33 → 3
    assert out["w"].dtype == torch.float32


def test_median_odd_and_even() -> None:
    assert median([m(1.0), m(5.0), m(3.0)])["w"].tolist() == [3.0]
    assert median([m(1.0), m(5.0), m(3.0), m(100.0)])["w"].tolist() == [4.0]


def test_trimmed_mean_drops_both_tails() -> None:
    models = [m(v) for v in (1.0, 2.0, 3.0, 4.0, 100.0)]
    assert trimmed_mean(models, 0.2)["w"].tolist() == [3.0]  # drops 1 and 100
    assert trimmed_mean(models, 0.0)["w"].tolist() == [22.0]
    with pytest.raises(ValueError, match="leaves nothing"):
        trimmed_mean(models[:2], 0.49 * 2)


def test_krum_picks_the_central_inputs() -> None:
    models = [m(0.0, 0.0), m(0.1, 0.0), m(0.0, 0.1), m(0.1, 0.1), m(50.0, -50.0)]
    assert krum_selection(models, f=1, m=1) in ([0], [1], [2], [3])
    assert 4 not in krum_selection(models, f=1, m=3)
    out = multikrum(models, [1, 1, 1, 1, 1], f=1, m=4)
    assert out["w"].tolist() == pytest.approx([0.05, 0.05])
    with pytest.raises(ValueError, match="more than 2f"):
        krum_selection(models[:4], f=1, m=1)


def _honest(n: int, dim: int = 100, seed: int = 0) -> list[State]:
    g = torch.Generator().manual_seed(seed)
    center = torch.randn(dim, generator=g)
    return [{"w": center + 0.05 * torch.randn(dim, generator=g)} for _ in range(n)]


@pytest.mark.parametrize("attack", ["noise", "sign_flip", "scaled"])
def test_robust_rules_resist_a_byzantine_minority_that_fedavg_does_not(attack: str) -> None:
    honest = _honest(7)
    truth = fedavg(honest, [1] * 7)
    g = torch.Generator().manual_seed(1)
    if attack == "noise":
        bad = [{"w": 100 * torch.randn(100, generator=g)} for _ in range(2)]
    elif attack == "sign_flip":
        bad = [{"w": -10 * truth["w"]} for _ in range(2)]
    else:
        bad = [{"w": 50 * honest[0]["w"]} for _ in range(2)]
    models = honest + bad
    weights = [1] * 9
    assert relative_distance(fedavg(models, weights), truth) > 1.0, "fedavg is dragged away"
    for name, out in {
        "median": median(models),
        "trimmed": trimmed_mean(models, 0.25),
        "multikrum": multikrum(models, weights, f=2, m=5),
    }.items():
        assert relative_distance(out, truth) < 0.1, name


def test_smoothing_clips_the_norm_and_noise_is_seeded_by_task_and_round() -> None:
    state = {"w": torch.tensor([3.0, 4.0]), "running_mean": torch.tensor([10.0])}
    clipped = smooth(state, {"w"}, sp.GlobalModelSpec(clip_norm=1.0), seed=0)
    assert clipped["w"].tolist() == pytest.approx([0.6, 0.8])
    assert clipped["running_mean"].tolist() == [10.0], "buffers are not parameters"
    noisy = sp.GlobalModelSpec(noise_std=0.1)
    a = smooth(state, {"w"}, noisy, seed=round_seed(1, 0))
    b = smooth(state, {"w"}, noisy, seed=round_seed(1, 0))
    c = smooth(state, {"w"}, noisy, seed=round_seed(1, 1))
    assert torch.equal(a["w"], b["w"])
    assert not torch.equal(a["w"], c["w"])
    assert round_seed(1, 0) != round_seed(2, 0)


def test_aggregate_is_deterministic_and_verified_by_recomputation() -> None:
    spec = small_spec().model_copy(update={"global_model": sp.GlobalModelSpec(clip_norm=50.0, noise_std=0.01)})
    contributions = [Contribution(i, s, 100 + i) for i, s in enumerate(_honest(4, seed=3))]
    shuffled = list(reversed(contributions))
    a = aggregate(spec, contributions, {"w"}, task_id=1, round_=2)
    b = aggregate(spec, shuffled, {"w"}, task_id=1, round_=2)
    assert torch.equal(a["w"], b["w"]), "input order does not matter: inputs are sorted by unit index"
    assert verify_aggregate(spec, contributions, a, {"w"}, task_id=1, round_=2).valid
    tampered = {"w": a["w"] + 0.01}
    check = verify_aggregate(spec, contributions, tampered, {"w"}, task_id=1, round_=2)
    assert not check.valid
    assert check.distance > spec.verification.tolerance
    wrong_round = verify_aggregate(spec, contributions, a, {"w"}, task_id=1, round_=3)
    assert not wrong_round.valid, "the noise binds the round"
