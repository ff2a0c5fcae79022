"""scripts/bench_capture.py at its smallest size, on a real chain: it runs, and its figures are the ones it
claims to measure (junk made final no more than the bound allows, the attacker poorer)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.benchlib import RESULTS_ENV

pytestmark = pytest.mark.chain


def test_bench_capture_runs_at_its_smallest_size_and_reports_against_the_bound(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scripts.bench_capture", "--units", "2", "--accounts", "1", "4"],
        env={**os.environ, RESULTS_ENV: str(tmp_path)}, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["junk_final_rate_bound"] == pytest.approx(8.8e-5, rel=0.01), "31 seats at s = 0.2"
    for accounts in (1, 4):
        assert figures[f"units_{accounts}_accounts"] == 2, "every junk unit settled"
        assert figures[f"junk_final_rate_{accounts}_accounts"] == 0.0
        assert figures[f"attacker_gain_wei_{accounts}_accounts"] < 0, "the attack cost the attacker"
