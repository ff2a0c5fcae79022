"""What the read commands print with ``--json``: one JSON document on stdout, the same fields as their tables.

Amounts are given twice: the ETH text the table shows (``escrow``) and the exact amount in wei as a decimal string
(``escrow_wei``: a JSON number would lose digits past 2^53 in most readers). Block times are unix seconds.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from client.render import eth
from node.store.cid import to_cid

if TYPE_CHECKING:
    from client.earnings import Earnings
    from client.inspect import MarketState
    from client.progress import Progress
    from node.chain.types import Task
    from node.ml.evaluate import Evaluation

NO_DIGEST = b"\0" * 32


def emit(document: dict[str, Any]) -> None:
    """Writes ``document`` to stdout as one JSON document (nothing else goes to stdout with --json)."""
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def amount(name: str, wei: int) -> dict[str, str]:
    """``{name: "0.100000 ETH", name_wei: "100000000000000000"}``."""
    return {name: eth(wei), f"{name}_wei": str(wei)}


def task_row(t: Task) -> dict[str, Any]:
    """A task as `dml task list` shows it."""
    return {
        "id": t.task_id,
        "owner": t.state.owner,
        "status": t.state.status.name.lower(),
        "round": t.state.current_round + 1,
        "rounds": t.params.rounds,
        "units": t.params.units_per_round,
        "quorum": t.params.quorum,
        **amount("escrow", t.state.escrow),
    }


def task_document(p: Progress, rejections: list[dict[str, Any]] | None) -> dict[str, Any]:
    """A task as `dml task show` shows it: its parameters, money and progress (and why its latest rejected results
    were rejected, unless skipped: null)."""
    t, params = p.task, p.task.params
    final = t.state.final_model_digest
    return {
        **task_row(t),
        "spec": to_cid(params.spec_digest),
        "dataset": to_cid(params.dataset_digest),
        "initial_model": to_cid(params.initial_model_digest),
        "final_model": None if final == NO_DIGEST else to_cid(final),
        **amount("miner_reward", params.miner_reward),
        **amount("aggregator_reward", params.aggregator_reward),
        **amount("verifier_reward", params.verifier_reward),
        **amount("unit_bond", params.unit_bond),
        **amount("vote_bond", params.vote_bond),
        **amount("budget", params.budget),
        "timeouts_s": {
            "claim": params.claim_timeout,
            "commit": params.commit_timeout,
            "reveal": params.reveal_timeout,
            "challenge_window": params.challenge_window,
        },
        "accepted": p.accepted,
        "rejected": p.rejected,
        "expired": p.expired,
        **amount("slashed_into_escrow", p.slashed_wei),
        "in_flight": t.state.in_flight,
        "units_of_this_round": [u.name.lower() for u in p.units],
        "metric": p.metric,
        "rounds_evaluated": {str(r + 1): _figure(figure) for r, figure in sorted(p.evaluations.items())},
        "why_rejected": rejections,
    }


def _figure(figure: Evaluation) -> dict[str, float]:
    """A round's headline figure (the task's metric), with the perplexity of a language model."""
    shown = {"value": float(figure.headline[1])}
    if figure.kind == "language":
        shown["perplexity"] = float(figure.perplexity)
    return shown


def state_document(state: MarketState) -> dict[str, Any]:
    """The contract's books as `dml state` shows them."""
    return {
        "address": state.address,
        **amount("balance", state.balance),
        **amount("escrow", state.escrow),
        **amount("stake", state.staked),
        **amount("credit", state.credit),
        **amount("total_owed", state.total_owed),
        **amount("surplus", state.surplus),
        "buckets_sum_to_total_owed": state.escrow + state.staked + state.credit == state.total_owed,
        "solvent": state.surplus >= 0,
        "tasks": [
            {
                "id": t.task_id,
                "status": t.state.status.name.lower(),
                "round": t.state.current_round + 1,
                "rounds": t.params.rounds,
                "open": t.state.open_units,
                "in_flight": t.state.in_flight,
                **amount("escrow", t.state.escrow),
            }
            for t in state.tasks
        ],
        "accounts": [
            {
                "address": a.address,
                **amount("stake", a.stake.total),
                **amount("locked", a.stake.locked),
                **amount("unbonding", a.stake.unbonding),
                **amount("credit", a.credit),
            }
            for a in state.accounts
        ],
    }


def earnings_document(books: Earnings, credit: int) -> dict[str, Any]:
    """An account's money as `dml account earnings` shows it."""
    return {
        "account": books.address,
        "tasks": [
            {
                "task": task_id,
                **amount("earned", t.earned),
                **amount("slashed", t.slashed),
                **amount("refunded", t.refunded),
            }
            for task_id, t in books.by_task.items()
        ],
        **amount("earned", books.earned),
        **amount("slashed", books.slashed),
        **amount("refunded", books.refunded),
        **amount("staked", books.staked),
        **amount("released", books.released),
        **amount("withdrawn", books.withdrawn),
        **amount("credit", credit),
        "credit_matches_events": credit == books.credit,
    }
