"""HTML reports with a PNG plot (matplotlib, no display needed)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def accuracy_plot(
    path: Path, per_round: Mapping[int, float], baseline: float | None, title: str, *, metric: str = "accuracy"
) -> None:
    """Each round's figure (``metric``: accuracy, or a language model's validation loss) against centralized
    training of the same steps."""
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    rounds = sorted(per_round)
    ax.plot([r + 1 for r in rounds], [per_round[r] for r in rounds], marker="o", label="network (federated, verified)")
    if baseline is not None:
        ax.axhline(baseline, color="gray", linestyle="--", label="centralized, same total steps")
    ax.set_xlabel("round")
    ax.set_ylabel(f"held-out {metric}")
    ax.set_title(title)
    ax.set_xticks([r + 1 for r in rounds] or [1])
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right" if metric == "accuracy" else "upper right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def html_page(title: str, sections: Sequence[tuple[str, Sequence[Sequence[object]] | str]], image: str | None) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}td:first-child{text-align:left}</style>",
             f"</head><body><h1>{html.escape(title)}</h1>"]  # fmt: skip
    if image:
        parts.append(f"<img src='{html.escape(image)}' alt='accuracy per round'>")
    for heading, body in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        if isinstance(body, str):
            parts.append(f"<p>{html.escape(body)}</p>")
            continue
        rows = list(body)
        parts.append("<table>")
        for i, row in enumerate(rows):
            cell = "th" if i == 0 else "td"
            parts.append("<tr>" + "".join(f"<{cell}>{html.escape(str(v))}</{cell}>" for v in row) + "</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)
