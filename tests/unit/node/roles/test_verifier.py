from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from node.chain.hashing import vote_commitment
from node.chain.types import BlockHead, UnitStatus
from node.ml.verify import Outcome, Verdict
from node.roles.verifier import LAST_CHANCE_TICKS, UNAVAILABLE_TRIES, VerifierRole, judge_unavailable
from node.state import VoteStatus
from tests.unit.node.fakes import unit_of
from tests.unit.node.roles.harness import TASK, Node, node

MISSING = Verdict(Outcome.UNAVAILABLE, "could not fetch the manifest: 404")


def test_unavailable_bytes_are_looked_for_again_while_the_window_has_time() -> None:
    judged = judge_unavailable(MISSING, tries=1, seconds_left=60, tick_step_s=1)
    assert judged.outcome is Outcome.UNAVAILABLE


def test_unavailable_bytes_are_invalid_after_the_last_try() -> None:
    judged = judge_unavailable(MISSING, tries=UNAVAILABLE_TRIES, seconds_left=60, tick_step_s=1)
    assert judged.outcome is Outcome.INVALID
    assert f"after {UNAVAILABLE_TRIES} tries" in judged.reason
    assert "404" in judged.reason


def test_unavailable_bytes_are_invalid_when_the_next_look_may_come_after_the_window() -> None:
    # The chain moves 4 s between two looks and the window has 8 s left: waiting would let the verdict stand.
    judged = judge_unavailable(MISSING, tries=1, seconds_left=LAST_CHANCE_TICKS * 4, tick_step_s=4)
    assert judged.outcome is Outcome.INVALID
    assert judge_unavailable(MISSING, tries=1, seconds_left=LAST_CHANCE_TICKS * 4 + 1, tick_step_s=4).outcome is (
        Outcome.UNAVAILABLE
    )


# The verifier's state machine against the fake market: the salt on disk before its commitment leaves, a restart at
# each step of a vote, a refused batch commit going vote by vote, the cycle's budget. Re-execution is the judge's
# (tested in tests/unit/node/protocol/test_judge.py): here a judge that counts its calls.

MINER = "0x" + "cc" * 20


class _CountingJudge:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def __call__(self, market: Any, fetch: Any, ref: Any, **_: Any) -> Verdict:
        self.calls.append((ref.round, ref.index))
        return Verdict(Outcome.VALID, "counted")


def _submitted(tmp_path: Path, indices: list[int]) -> Node:
    """A node in the pool, drawn for the units ``indices`` a miner submitted."""
    n = node(tmp_path, roles=["verifier"])
    n.market.pool.add(n.market.me)
    for i in indices:
        n.market.units[(TASK, 0)][i] = unit_of(
            UnitStatus.SUBMITTED, MINER, deadline=n.market.now + 60, submitted_block=3,
            result_digest=b"\x01" * 32, model_digest=b"\x02" * 32,
        )  # fmt: skip
        n.market.seat(TASK, 0, i)
    return n


def test_a_drawn_verifier_stores_its_vote_before_committing_it_and_commits_a_round_in_one_transaction(
    tmp_path: Path,
) -> None:
    n, judged = _submitted(tmp_path, [0, 2]), _CountingJudge()
    stored_first: list[bool] = []
    n.market.before["commitVotes"] = lambda *_: stored_first.append(len(n.services.state.open_votes()) == 2)
    VerifierRole(n.services, judge=judged).tick(n.services.cycle_at_head())
    assert sorted(judged.calls) == [(0, 0), (0, 2)]
    assert stored_first == [True], "both salts on disk before the commitment left"
    assert n.market.count("commitVotes") == 1
    for i in (0, 2):
        ballot = n.market.get_ballot(TASK, 0, i, n.market.me)
        vote = n.services.state.get_vote(TASK, 0, i, 0)
        assert vote is not None
        assert vote.status is VoteStatus.COMMITTED
        assert ballot.commitment == vote_commitment(TASK, 0, i, n.market.me, True, vote.salt)


@pytest.mark.parametrize("step", ["stored, not committed", "committed, not recorded"])
def test_a_verifier_restarted_after_each_step_of_a_vote_commits_it_once_with_its_salt(
    tmp_path: Path, step: str
) -> None:
    n, judged = _submitted(tmp_path, [1]), _CountingJudge()

    def killed(task_id: int, round_: int, commitments: list[tuple[int, bytes]]) -> None:
        if step == "committed, not recorded":
            n.market.before.pop("commitVotes", None)
            n.market.commit_votes(task_id, round_, commitments)  # it landed; the node died before writing it
        raise KeyboardInterrupt(step)

    n.market.before["commitVotes"] = killed
    with pytest.raises(KeyboardInterrupt):
        VerifierRole(n.services, judge=judged).tick(n.services.cycle_at_head())
    [before] = n.services.state.open_votes()
    assert before.status is VoteStatus.STORED

    services = n.restarted(tmp_path, roles=["verifier"])
    VerifierRole(services, judge=judged).tick(services.cycle_at_head())
    vote = services.state.get_vote(TASK, 0, 1, 0)
    assert vote is not None
    assert (vote.status, vote.salt) == (VoteStatus.COMMITTED, before.salt), "the salt it stored, never a new one"
    assert judged.calls == [(0, 1)], "not re-executed"
    assert n.market.count("commitVotes") == 1
    # The killed attempt, then the restart's (stored), or the landing the crash hid (committed): never a third.
    assert n.market.tried.count("commitVotes") == 2
    assert n.market.get_ballot(TASK, 0, 1, n.market.me).commitment == vote_commitment(
        TASK, 0, 1, n.market.me, True, before.salt
    )


def test_a_refused_batch_commit_goes_vote_by_vote_and_the_lost_seat_is_let_go(tmp_path: Path) -> None:
    n, judged = _submitted(tmp_path, [0, 3]), _CountingJudge()

    def seat_released(task_id: int, round_: int, commitments: list[tuple[int, bytes]]) -> None:
        key = (task_id, round_, 3, n.market.me)
        n.market.ballots[key] = replace(n.market.ballots[key], seats=0)  # drawn again for someone else

    n.market.before["commitVotes"] = seat_released
    VerifierRole(n.services, judge=judged).tick(n.services.cycle_at_head())
    assert n.market.tried.count("commitVotes") == 3, "the batch, then each vote alone"
    assert n.market.count("commitVotes") == 1
    kept, lost = n.services.state.get_vote(TASK, 0, 0, 0), n.services.state.get_vote(TASK, 0, 3, 0)
    assert kept is not None
    assert lost is not None
    assert (kept.status, lost.status) == (VoteStatus.COMMITTED, VoteStatus.ABANDONED)


def test_no_re_execution_starts_once_the_cycle_budget_is_spent_but_stored_votes_are_committed(
    tmp_path: Path,
) -> None:
    n, judged = _submitted(tmp_path, [0, 1]), _CountingJudge()
    ticks = [0.0]

    def judge_spending_the_budget(market: Any, fetch: Any, ref: Any, **kw: Any) -> Verdict:
        ticks[0] += 10.0
        return judged(market, fetch, ref, **kw)

    role = VerifierRole(n.services, judge=judge_spending_the_budget)
    head = n.market.latest()
    role.tick(replace(n.services.begin_cycle(head.number, head.timestamp), budget_ends=5.0, clock=lambda: ticks[0]))
    assert len(judged.calls) == 1, "the second re-execution waits"
    assert n.market.count("commitVotes") == 1, "the stored vote is committed whatever the budget"
    role.tick(n.services.cycle_at_head())
    assert len(judged.calls) == 2
    assert n.market.count("commitVotes") == 2


def test_a_verifier_too_slow_for_the_commit_window_declines_the_task_before_it_is_seated(tmp_path: Path) -> None:
    """Its own hardware re-executes a segment of the task; judging a unit would outlast the window: it declines on
    chain (once: the chain remembers it), joins no pool for it and judges nothing of it."""
    n, judged = _submitted(tmp_path, [0]), _CountingJudge()
    task = n.market.tasks[TASK]
    n.market.tasks[TASK] = replace(task, params=replace(task.params, commit_timeout=1))
    role = VerifierRole(n.services, judge=judged)
    role.tick(n.services.cycle_at_head())
    assert n.market.count("declineTask") == 1
    assert n.market.has_declined(TASK, n.market.me)
    assert judged.calls == []
    role.tick(n.services.cycle_at_head())
    assert n.market.count("declineTask") == 1, "declined once"


def test_a_verifier_that_makes_the_window_sits_and_judges(tmp_path: Path) -> None:
    n, judged = _submitted(tmp_path, [0]), _CountingJudge()
    VerifierRole(n.services, judge=judged).tick(n.services.cycle_at_head())
    assert n.market.count("declineTask") == 0
    assert judged.calls == [(0, 0)]


def test_a_verifier_whose_view_lags_the_head_by_the_commit_window_declines_the_task(tmp_path: Path) -> None:
    """With --confirmations its view is under the head: it sees each submission as late as the view lags, and a
    re-execution that fits the window alone but not with that lag is declined as well."""
    n, judged = _submitted(tmp_path, [0]), _CountingJudge()
    window = n.market.tasks[TASK].params.commit_timeout
    head = n.market.latest()
    view = n.services.begin_cycle(
        head.number, head.timestamp, head=BlockHead(head.number + 3, head.timestamp + window, head.hash)
    )
    VerifierRole(n.services, judge=judged).tick(view)
    assert n.market.count("declineTask") == 1
    assert judged.calls == []


def test_a_draw_that_keeps_waiting_for_its_seed_block_is_said_once_at_warning_level_with_the_blocks(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A chain that mines no block without traffic (or simulates `pending` as its latest block) answers every
    draw with TaskMarketSeedNotReady: the node says so once, naming the block it waits for, not silently forever."""
    from node.chain.reverts import TaskMarketSeedNotReady
    from node.roles.verifier import SEED_WAIT_WARN_AFTER

    n = node(tmp_path, roles=["verifier"])
    n.market.pool.add(n.market.me)
    n.market.units[(TASK, 0)][0] = unit_of(
        UnitStatus.SUBMITTED, MINER, deadline=n.market.now + 600, submitted_block=n.market.number,
        result_digest=b"\x01" * 32, model_digest=b"\x02" * 32,
    )  # fmt: skip
    role = VerifierRole(n.services, judge=_CountingJudge())
    caplog.set_level("DEBUG", logger="node.roles.verifier")
    for _ in range(SEED_WAIT_WARN_AFTER + 3):
        n.market.refuse["drawVerifiers"] = TaskMarketSeedNotReady({"seedBlock": 10, "blockNumber": 10})
        role.tick(n.services.cycle_at_head())
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and "seed block" in r.getMessage()]
    assert len(warnings) == 1
    assert (warnings[0].waits_for_block, warnings[0].simulated_at) == (11, 10)  # type: ignore[attr-defined]
    assert n.market.count("drawVerifiers") == 0
