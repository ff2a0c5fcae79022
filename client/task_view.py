"""How a task looks in the terminal: its parameters, and its progress live until it ends."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.table import Table

from client import interrupt
from client.render import eth
from node.chain.reverts import TaskMarketUnknownTask
from node.chain.types import UnitStatus
from node.store.cid import to_cid

if TYPE_CHECKING:
    from client.progress import Progress, ProgressReader
    from client.session import Session
    from node.chain.types import Task

console = Console()

UNIT_GLYPH = {
    UnitStatus.OPEN: "·",
    UnitStatus.CLAIMED: "c",
    UnitStatus.SUBMITTED: "s",
    UnitStatus.REVEALING: "r",
    UnitStatus.DECIDED: "d",
    UnitStatus.ACCEPTED: "✓",
}


def watch_task(session: Session, task_id: int) -> Progress:
    from rich.live import Live

    from client.progress import ProgressReader

    reader = ProgressReader(session.market, session.store, task_id, session.deployment.block_number)
    progress = _read(session, reader, task_id)
    with Live(render_progress(progress), console=console, refresh_per_second=4, transient=False) as live:
        return follow_task(session, task_id, reader, progress, lambda p: live.update(render_progress(p)))


def follow_task(
    session: Session,
    task_id: int,
    reader: ProgressReader | None = None,
    progress: Progress | None = None,
    shown: Callable[[Progress], None] = lambda _: None,
) -> Progress:
    """Reads the task's progress every second until it ends (``shown`` each time: the live view, or nothing for
    ``task watch --json``); returns the last."""
    if reader is None:
        from client.progress import ProgressReader

        reader = ProgressReader(session.market, session.store, task_id, session.deployment.block_number)
    if progress is None:
        progress = _read(session, reader, task_id)
    while not progress.finished:
        interrupt.check()
        time.sleep(1)
        progress = _read(session, reader, task_id)
        shown(progress)
    return progress


def _read(session: Session, reader: ProgressReader, task_id: int) -> Progress:
    """The task's progress now. A reorganisation that undid our own transactions (the task's creation, just sent by
    `task submit --watch`) has them sent again as the same bytes, and the watch waits for the task to be back."""
    said = False
    while True:
        if session.market.sends and session.market.signer.tracked:
            session.market.signer.reconcile()
        try:
            return reader.read()
        except TaskMarketUnknownTask:
            if not (session.market.sends and session.market.signer.tracked):
                raise
            if not said:
                console.print(f"task {task_id} is not on chain any more (a reorganisation): its creation went out "
                              "again, waiting for it to be mined")  # fmt: skip
                said = True
            interrupt.check()
            time.sleep(1)


def parameters_table(t: Task) -> Table:
    """Everything ``createTask`` fixed, and where the task's artifacts are."""
    p, st = t.params, t.state
    table = Table.grid(padding=(0, 2))
    final = to_cid(st.final_model_digest) if st.final_model_digest != b"\0" * 32 else "(not yet)"
    rows = [
        ("owner", st.owner),
        ("spec", to_cid(p.spec_digest)),
        ("dataset", to_cid(p.dataset_digest)),
        ("initial model", to_cid(p.initial_model_digest)),
        ("final model", final),
        ("shape", f"{p.rounds} rounds × {p.units_per_round} units + 1 aggregation, quorum {p.quorum}"),
        (
            "rewards",
            f"miner {eth(p.miner_reward)}, aggregator {eth(p.aggregator_reward)}, "
            f"verifier {eth(p.verifier_reward)} per seat",
        ),
        ("bonds", f"unit {eth(p.unit_bond)}, vote {eth(p.vote_bond)} per seat"),
        (
            "timeouts",
            f"claim {p.claim_timeout} s, commit {p.commit_timeout} s, reveal {p.reveal_timeout} s, "
            f"challenge window {p.challenge_window} s",
        ),
        ("budget", f"{eth(p.budget)} escrowed, {eth(st.escrow)} left"),
    ]
    for label, value in rows:
        table.add_row(label, value)
    return table


def render_progress(p: Progress) -> Group:
    t = p.task
    head = Table.grid(padding=(0, 2))
    head.add_row(
        "task",
        str(t.task_id),
        "status",
        t.state.status.name.lower(),
        "round",
        f"{t.state.current_round + 1}/{t.params.rounds}",
    )
    head.add_row("accepted", str(p.accepted), "rejected", str(p.rejected), "expired", str(p.expired))
    head.add_row(
        "escrow", eth(t.state.escrow), "slashed into escrow", eth(p.slashed_wei), "in flight", str(t.state.in_flight)
    )
    units = "".join(UNIT_GLYPH[u] for u in p.units[:-1]) + " | agg " + UNIT_GLYPH[p.units[-1]]
    rounds = Table("round", "progress", f"{p.metric} (held-out)")
    done_in_current = sum(1 for u in p.units if u is UnitStatus.ACCEPTED)
    for r in range(t.params.rounds):
        if r < t.state.current_round or t.state.final_model_digest != b"\0" * 32:
            done = len(p.units)
        elif r == t.state.current_round:
            done = done_in_current
        else:
            done = 0
        figure = p.evaluations.get(r)
        shown = "" if figure is None else f"{figure.headline[1]:.4f}"
        if figure is not None and figure.kind == "language":
            shown += f" (perplexity {figure.perplexity:.2f})"
        rounds.add_row(str(r + 1), _bar(done, len(p.units)), shown)
    legend = "(· open  c claimed  s submitted  r revealing  d decided, open to challenge  ✓ accepted)"
    return Group(head, f"units of this round: {units}   {legend}", rounds)


def _bar(done: int, total: int, width: int = 20) -> str:
    filled = round(width * done / total) if total else 0
    return "█" * filled + "░" * (width - filled) + f" {done}/{total}"
