"""Verification across machines, calibrated: for each built-in workload, honest work trained at 2 threads and
re-executed at 1 (and with the fast kernels) lands within the spec's tolerance, and every listed cheat beyond it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from client.datasets import context_of, load_dataset
from node.ml import defaults
from node.ml import spec as sp
from node.ml.calibrate import CHEATS, Calibration, calibrate
from node.ml.device import Hardware
from node.ml.manifest import UnitContext, publish_trail
from node.ml.material import split_for
from node.ml.model import build_module, state_of, state_to_bytes
from node.ml.train import train_unit
from node.ml.verify import Outcome, verify_unit
from node.store.cid import cid_of, normalize

NONE = "0x" + "00" * 32
CID = cid_of(b"x")
WORKLOADS: dict[str, tuple[Callable[[], sp.TaskSpec], str]] = {
    "digits-mlp": (lambda: defaults.digits_spec(dataset_digest=NONE, local_steps=24), "digits"),
    "digits-cnn": (lambda: defaults.digits_spec(dataset_digest=NONE, local_steps=24, cnn=True), "digits"),
    "fashion-mnist-cnn": (lambda: defaults.fashion_mnist_spec(dataset_digest=NONE, local_steps=15), "fashion-mnist"),
    "fashion-mnist-resnet": (
        lambda: defaults.fashion_mnist_resnet_spec(dataset_digest=NONE, local_steps=15),
        "fashion-mnist",
    ),
    "fortunes-gpt": (lambda: defaults.lm_spec(dataset_digest=NONE, local_steps=15), "fortunes"),
}


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_honest_work_at_2_threads_verifies_at_1_and_every_cheat_is_rejected(name: str) -> None:
    make, dataset = WORKLOADS[name]
    spec = make()
    parts = split_for(spec, load_dataset(dataset, context=context_of(spec)))
    initial = state_of(build_module(spec.model))
    found = calibrate(spec, initial, parts.shards, threads=2)
    assert found.segments == len(spec.training.checkpoint_steps) - 1
    assert set(found.cheats) == set(CHEATS)
    assert found.false_rejects(spec.tolerance) == 0, f"honest distances {found.honest} vs {spec.tolerance}"
    assert found.cheats_rejected(spec.tolerance), f"cheat distances {found.cheats} vs {spec.tolerance}"
    over, under = found.margins(spec.tolerance)
    assert over > 3, f"the tolerance is within 3× of the largest honest distance: {over:.1f}"
    assert under > 3, f"the tolerance is within 3× of the closest cheat: {under:.1f}"
    # The same through the verifier: a trail trained at 2 threads, re-executed on a 1-thread verifier that does
    # not match the miner's threads (as one on other hardware would not).
    trail = train_unit(spec, initial, parts.shards[0], b"unit", hardware=Hardware(threads=2))
    objects: dict[str, bytes] = {}

    def put(data: bytes) -> str:
        objects[normalize(cid_of(data))] = data
        return cid_of(data)

    input_cid = put(state_to_bytes(initial))
    ctx = UnitContext(1, 0, 0, "0x" + "11" * 20, CID, CID, input_cid, b"unit")
    _, manifest_cid = publish_trail(trail, put, ctx)
    verdict = verify_unit(
        spec,
        objects[normalize(manifest_cid)],
        lambda cid: objects[normalize(cid)],
        b"challenge",
        ctx,
        parts.shards[0],
        hardware=Hardware(threads=1),
        match_threads=False,
        segments=64,
    )
    assert verdict.outcome is Outcome.VALID, verdict.reason


def test_a_proposal_sits_between_the_honest_and_the_cheats_with_its_margins() -> None:
    found = Calibration({"other threads": [1e-7, 4e-7]}, {"skip a step": [1e-2], "bf16 for fp32": [4e-3]}, 2, "cpu")
    assert found.separates
    assert found.worst_honest == 4e-7
    assert found.closest_cheat == 4e-3
    assert found.proposed == pytest.approx(4e-5)
    over, under = found.margins()
    assert over == pytest.approx(100)
    assert under == pytest.approx(100)
    assert found.false_rejects(1e-7) == 1
    assert not found.cheats_rejected(5e-3)
    mixed = Calibration({"other threads": [3e-3]}, {"lower learning rate": [2e-3]}, 1, "cpu")
    assert not mixed.separates
