"""scripts/bench_workloads.py at its smallest size, on a real chain, store and node processes: it runs, the
Byzantine miner's units are all rejected and no honest one is, and the sharded dataset costs a unit no more than one
shard does (the same bytes fetched, peak RSS within 2×)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.benchlib import RESULTS_ENV

pytestmark = [pytest.mark.chain, pytest.mark.slow]


@pytest.mark.timeout(1200)  # the bench's own limit below; 3.3 min on a quiet machine, over 10 beside a busy CI
def test_bench_workloads_runs_at_its_smallest_size_and_reports_every_figure(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scripts.bench_workloads", "--rounds", "1", "--local-steps", "20", "--size-mb", "64",
         "--lm-rounds", "1", "--lm-local-steps", "20", "--resnet-rounds", "1", "--resnet-local-steps", "20",
         "--calibration-units", "1", "--trials", "1"],
        env={**os.environ, RESULTS_ENV: str(tmp_path)}, capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    for key in ("fmnist_network_accuracy", "fmnist_centralized_accuracy"):
        assert 0 < figures[key] <= 1, key
    # At 20 steps a verifier re-executes 3 of 4 segments: the cost is about the training's, not the 4% of 400 steps.
    assert 0 < figures["verification_cost_ratio"] < 2
    assert 0 < figures["lm_network_val_loss"] < 5.55, "below an untrained model's ln 256"
    assert 0.9 < figures["lm_loss_ratio"] < 1.3, "1 round of 20 steps: FedAvg of 4 units trails 80 central steps"
    assert figures["lm_rejected"] == 0, "no honest GPT unit is rejected"
    assert figures["honest_false_rejects"] == 0
    assert figures["all_cheats_rejected"] is True
    assert set(figures["calibration"]) == {
        "digits-mlp",
        "digits-cnn",
        "fashion-mnist-cnn",
        "fashion-mnist-resnet",
        "fortunes-gpt",
    }
    for name, speed in figures["throughput"].items():
        assert speed["ratio_1"] > 0.3, f"{name}: the trainer at 1 thread is far slower than plain PyTorch"
    assert figures["fmnist_network_accuracy"] > 0.3, "20 steps of 4 units already learn (chance is 0.1)"
    assert 0.2 < figures["resnet_network_accuracy"] <= 1, "the residual CNN learns through the network"
    assert 0 < figures["resnet_centralized_accuracy"] <= 1
    assert figures["resnet_rejected"] == 0, "no honest residual-CNN unit is rejected"
    assert figures["byzantine_rejected"] == figures["byzantine_submitted"]
    assert figures["honest_rejected"] == 0
    assert figures["dataset_mb"] == 64 * figures["shard_mb"]
    assert figures["fetched_mb_per_unit_sharded"] == figures["fetched_mb_per_unit_one_shard"], "one shard's bytes"
    assert figures["rss_ratio_miner"] <= 2
    assert figures["rss_ratio_verifier"] <= 2
