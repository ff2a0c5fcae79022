"""Re-executing a middle segment against recorded traffic: honest work passes, each cheat is caught."""

from __future__ import annotations

import copy

import torch

from node.ml import spec as sp
from node.ml.model import State, build_module
from node.ml.optim import OptState
from node.ml.split import MiddleSide, OwnerSide, part
from node.ml.split_verify import RecordedStep, check_segment, replay_middle
from node.ml.train import step_seed
from tests.unit.ml.split_fixtures import PLAN, SPEC

MODEL = SPEC.model
TRAINING = sp.TrainingSpec.model_validate(
    {"loss": "cross_entropy", "optimizer": {"type": "adam", "lr": 0.01}, "batch_size": 8, "local_steps": 8,
     "checkpoint_every": 4}
)  # fmt: skip
SEED = b"\x07" * 32
TOLERANCE = 1e-4


def _train(fake_output_at: int | None = None) -> tuple[list[tuple[State, OptState]], list[RecordedStep]]:
    """A unit of 8 split steps: the middle's checkpoints at steps 0, 4 and 8, and every step's traffic. With
    ``fake_output_at``, the miner sends a slightly wrong output at that step (and trains on as if it had not)."""
    module = build_module(MODEL, seed=1)
    owner = OwnerSide(module, PLAN, TRAINING)
    middle = MiddleSide(part(module, PLAN.middle), TRAINING)
    checkpoints = [(middle.state(), copy.deepcopy(middle.opt_state))]
    traffic = []
    generator = torch.Generator().manual_seed(3)
    for step in range(TRAINING.local_steps):
        x, y = torch.randn(8, 1, 8, 8, generator=generator), torch.randint(0, 10, (8,), generator=generator)
        activations = owner.stem_forward(x)
        seed = step_seed(SEED, step, b"dropout")
        output = middle.forward(activations, seed)
        if step == fake_output_at:
            output = output * 1.01
        gradient_out, _ = owner.head_backward(output, y)
        owner.finish(middle.backward(gradient_out))
        traffic.append(RecordedStep(activations, output, gradient_out, seed))
        if (step + 1) % TRAINING.checkpoint_every == 0:
            checkpoints.append((middle.state(), copy.deepcopy(middle.opt_state)))
    return checkpoints, traffic


def _verify(checkpoints: list[tuple[State, OptState]], traffic: list[RecordedStep], segment: int) -> tuple[bool, str]:
    start, opt = checkpoints[segment]
    middle = part(build_module(MODEL, seed=99), PLAN.middle)  # the verifier's own copy: no private layers
    middle.load_state_dict(start, strict=True)
    steps = traffic[segment * 4 : (segment + 1) * 4]
    return check_segment(replay_middle(middle, opt, TRAINING, steps), checkpoints[segment + 1][0], TOLERANCE)


def test_an_honest_segment_passes() -> None:
    checkpoints, traffic = _train()
    for segment in (0, 1):
        ok, reason = _verify(checkpoints, traffic, segment)
        assert ok, reason


def test_a_miner_answering_with_a_wrong_middle_output_is_caught_in_that_segment() -> None:
    checkpoints, traffic = _train(fake_output_at=5)
    assert _verify(checkpoints, traffic, 0)[0], "the segment before the faked step is honest"
    ok, reason = _verify(checkpoints, traffic, 1)
    assert not ok
    assert "output at step 1 of the segment" in reason


def test_a_noise_trail_and_another_segments_traffic_are_caught() -> None:
    checkpoints, traffic = _train()
    last, last_opt = checkpoints[2]
    noisy = [checkpoints[0], checkpoints[1], ({k: v + 0.01 * torch.randn_like(v) for k, v in last.items()}, last_opt)]
    ok, reason = _verify(noisy, traffic, 1)
    assert not ok
    assert "does not reach its next checkpoint" in reason
    swapped = traffic[4:8] + traffic[0:4]  # segment 0's traffic presented as segment 1's
    assert not _verify(checkpoints, swapped, 1)[0]
