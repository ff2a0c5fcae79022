"""Every benchmark at its smallest size, as a user runs it (its own process, real chain, store and nodes where it
uses them): it completes, writes its JSON (to a temporary folder named by $DMLNET_BENCH_RESULTS, so bench-results/
keeps the figures measured at full size) and prints the same document last, and the figures it claims to measure
are there and sane. No timing is asserted; bench_capture and bench_workloads have their own
tests beside this one. A benchmark with no test here fails `test_every_benchmark_has_a_smallest_size_run`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scripts.benchlib import RESULTS_ENV

pytestmark = pytest.mark.chain

Check = Callable[[dict[str, Any]], None]
ROOT = Path(__file__).resolve().parents[3]
TESTED_ELSEWHERE = {"bench_capture", "bench_workloads"}


def _cli(f: dict[str, Any]) -> None:
    assert set(f["startup_s"]) >= {"dml --help", "dml task list", "dml state"}
    assert all(v > 0 for v in f["startup_s"].values())


def _explorer(f: dict[str, Any]) -> None:
    assert f["tasks"] == 1
    assert f["units"] == 200, "10 rounds × (19 + 1) units"
    assert f["events"] > 0
    assert f["api_ms_p95"] > 0
    assert set(f["page_load_ms_p95_by_page"]) == {"network", "task", "account"}, "Chromium loaded every page"


def _gas(f: dict[str, Any]) -> None:
    assert f["units_per_round"] == 1
    assert f["steady_rounds"] == 1
    assert 0 < f["gas_per_accepted_unit_q1"] < f["gas_per_accepted_unit_q3"], "three seats cost more than one"
    # The Shanghai build ran the same tasks on a Shanghai chain: its figures are measured, within a few percent.
    for q in (1, 3):
        shanghai, cancun = f[f"shanghai_gas_per_accepted_unit_q{q}"], f[f"gas_per_accepted_unit_q{q}"]
        assert 0.8 < shanghai / cancun < 1.25, (q, shanghai, cancun)  # U = 1: one round's draws, seed noise
    assert f["demo_units_accepted"] == 3 * (4 + 1), "3 rounds of 4 training units and an aggregate"
    assert f["tour_units_accepted"] == 2 * (2 + 1)
    assert f["tour_gas_per_accepted_unit"] < f["demo_gas_per_accepted_unit"], "quorum 1 costs less than quorum 3"


def _ml(f: dict[str, Any]) -> None:
    assert f["accuracy_network"] > 0.8
    assert f["accuracy_centralized"] > 0.8
    for cheat in ("copy", "noise", "replay", "relabelled_replay"):
        assert f[f"detection_{cheat}"] == 1.0, cheat


def _network(f: dict[str, Any]) -> None:
    assert f["units"] == 2, "one training unit and the aggregate"
    assert f["rejected_or_expired"] == 0
    assert 0 < f["compute_utilization"] <= 1


def _overhead(f: dict[str, Any]) -> None:
    assert f["overhead_ratio"] >= 1
    assert 0 < f["compute_utilization"] <= 1


def _privacy(f: dict[str, Any]) -> None:
    assert set(f["owner_accuracy_split"]) == {"cnn", "mlp4"}
    assert set(f["network_task_s"]) == {"plain", "split"}
    assert f["split_overhead_ratio"] > 0


def _scale(f: dict[str, Any]) -> None:
    assert f["units"] == 3
    assert f["units_per_minute"]["1"] > 0
    assert f["speedup_1_vs_1"] == 1.0
    assert f["nodes"] == "one process each"
    assert f["protocol_cpu_s_per_unit"]["1"] > 0, "the chain, the store and the nodes worked for every unit"
    idle, busy = f["rpc_per_node_per_block_idle"]["1"], f["rpc_per_node_per_block_busy"]["1"]
    assert 0 < idle < busy, "a node reads more while it works than while it waits"


def _split_wire(f: dict[str, Any]) -> None:
    assert f["bytes_per_step"] > 0
    assert f["step_ms_over_http"] > f["step_ms_in_process"] > 0


def _store(f: dict[str, Any]) -> None:
    assert f["put_mb_s_2mb"] > 0  # 2 MB: a chunked object (a dag-pb root over two raw leaves)
    assert f["get_mb_s_2mb"] > 0
    assert f["copy_mb_s_2mb"] > 0, "the floor of a store on this disk: read, hash and write the file once"
    assert f["put_ratio_to_copy_2mb"] > 0
    assert f["get_ratio_to_copy_2mb"] > 0
    assert f["server_peak_rss_mb_2mb"] > 0
    assert f["client_peak_rss_mb_2mb"] > 0


# name: (smallest-size arguments, the JSON file it writes, its checks, slow)
RUNS: dict[str, tuple[list[str], str, Check, bool]] = {
    "bench_cli": (["--runs", "1"], "cli", _cli, False),
    "bench_explorer": (["--tasks", "1", "--loads", "2"], "bench_explorer", _explorer, False),
    "bench_gas": (["--units", "1", "--rounds", "2", "--demo-local-steps", "20"], "gas", _gas, True),
    "bench_ml": (["--rounds", "1", "--units", "2", "--trials", "1"], "ml", _ml, False),
    "bench_network": (["--rounds", "1", "--units", "1", "--local-steps", "20"], "network", _network, True),
    "bench_overhead": (["--rounds", "1", "--units", "1", "--unit-seconds", "0.5"], "overhead", _overhead, True),
    "bench_privacy": (
        [
            "--seeds",
            "1",
            "--ks",
            "10",
            "--owner-steps",
            "20",
            "--attack-steps",
            "10",
            "--a3-max-steps",
            "25",
            "--network-steps",
            "20",
        ],
        "bench_privacy",
        _privacy,
        True,
    ),
    "bench_scale": (["--miners", "1", "--units", "2", "--verifiers", "1", "--idle-blocks", "3"], "scale", _scale, True),
    "bench_split_wire": ([], "split_wire", _split_wire, False),
    "bench_store": (["--sizes", "2"], "store", _store, False),
}


def test_every_benchmark_has_a_smallest_size_run() -> None:
    found = {p.stem for p in (ROOT / "scripts").glob("bench_*.py")}
    assert found - TESTED_ELSEWHERE == set(RUNS), "a benchmark without a smallest-size run in CI"


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=[pytest.mark.slow] if RUNS[n][3] else []) for n in RUNS]
)  # fmt: skip
def test_benchmark_runs_at_its_smallest_size_and_writes_its_figures(name: str, tmp_path: Path) -> None:
    argv, json_name, check, _ = RUNS[name]
    written = tmp_path / f"{json_name}.json"  # not bench-results/: a developer's measured figures stay
    done = subprocess.run(
        [sys.executable, "-m", f"scripts.{name}", *argv],
        cwd=ROOT, env={**os.environ, RESULTS_ENV: str(tmp_path)}, capture_output=True, text=True, timeout=900,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    printed = json.loads(done.stdout.strip().splitlines()[-1])
    assert json.loads(written.read_text()) == printed, "the JSON file and the last line are one document"
    check(printed)
