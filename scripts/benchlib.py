"""Shared output of the benchmarks: a plain table, a JSON file under bench-results/, and the JSON object as the
last line of output (what CI and BENCHMARKS.md read)."""

from __future__ import annotations

import json
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parents[1] / "bench-results"
RESULTS_ENV = "DMLNET_BENCH_RESULTS"  # another folder for the figures (the tests' smallest-size runs use one)


def results_dir() -> Path:
    """Where figures go: bench-results/ in the checkout, or the folder ``$DMLNET_BENCH_RESULTS`` names."""
    import os

    folder = Path(os.environ.get(RESULTS_ENV) or RESULTS_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def peak_rss_mb(pid: int | str = "self") -> float:
    """A process's peak resident memory (VmHWM) in MB. Not ``getrusage``'s ru_maxrss: Linux carries that across
    exec, so a child started by a big parent reports the parent's peak at the fork."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def emit(name: str, figures: Mapping[str, Any]) -> None:
    """Writes <name>.json in :func:`results_dir` and prints the figures as one JSON line, last."""
    document = {**figures, "machine": machine()}
    (results_dir() / f"{name}.json").write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    print(json.dumps(document, sort_keys=True))


def machine() -> dict[str, Any]:
    import os

    return {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
