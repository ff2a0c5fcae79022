"""Start-up time of `dml` commands: how long a user waits for an answer.

Each command runs as its own process (as a user runs it), against a devnet started for the run in a temporary
folder; the figure is the median wall time of 5 runs. Beside them, the bare import of web3 and torch in the same
run, since a command that reads the chain cannot answer faster than web3 imports.

    python -m scripts.bench_cli
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scripts.benchlib import emit, print_table

RUNS = 5
COMMANDS: dict[str, list[str]] = {
    "dml --help": ["--help"],
    "dml task --help": ["task", "--help"],
    "dml task submit --help": ["task", "submit", "--help"],
    "dml node run --help": ["node", "run", "--help"],
    "dml task list": ["task", "list"],
    "dml state": ["state"],
    "dml devnet status": ["devnet", "status"],
}
IMPORTS = {"python -c 'import web3'": "import web3", "python -c 'import torch'": "import torch"}


def _median_wall(argv: list[str], cwd: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            argv, cwd=cwd, check=True, capture_output=True, timeout=120, env={**os.environ, "COLUMNS": "200"}
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=RUNS, help=f"runs of each command (default {RUNS})")
    runs = parser.parse_args().runs
    dml = [sys.executable, "-m", "client.cli"]
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = {**os.environ, "PYTHONPATH": str(root)}
        subprocess.run([*dml, "devnet", "up"], cwd=home, check=True, capture_output=True, timeout=300, env=env)
        try:
            os.environ["PYTHONPATH"] = str(root)
            figures = {name: _median_wall([*dml, *argv], home, runs) for name, argv in COMMANDS.items()}
            baseline = {name: _median_wall([sys.executable, "-c", code], home, runs) for name, code in IMPORTS.items()}
        finally:
            subprocess.run([*dml, "devnet", "down"], cwd=home, check=False, capture_output=True, timeout=60, env=env)
    rows = [(name, seconds, "") for name, seconds in figures.items()]
    rows += [(name, seconds, "reference") for name, seconds in baseline.items()]
    print_table(["command", f"median s of {runs}", ""], rows)
    emit(
        "cli",
        {
            "startup_s": {k: round(v, 3) for k, v in figures.items()},
            "import_s": {k: round(v, 3) for k, v in baseline.items()},
            "help_s": round(figures["dml --help"], 3),
            "task_list_s": round(figures["dml task list"], 3),
        },
    )


if __name__ == "__main__":
    main()
