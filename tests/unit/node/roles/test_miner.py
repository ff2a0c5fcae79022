from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from node.chain.types import UnitStatus
from node.protocol.modes import TrainedUnit, UnitJob
from node.roles.context import Services
from node.roles.miner import MinerRole
from node.state import WorkStatus
from tests.unit.node.roles.harness import TASK, Node, StubMode, node, statuses

RIVAL = "0x" + "bb" * 20


def test_vote_due_within_the_time_a_unit_trains() -> None:
    from node.roles.miner import vote_due_within

    assert vote_due_within([1_000, 1_050], now=1_000.0, busy_s=30)  # due now
    assert vote_due_within([2_000, 1_020], now=1_000.0, busy_s=30)
    assert not vote_due_within([1_031, 5_000], now=1_000.0, busy_s=30)  # later than the training would take
    assert not vote_due_within([999], now=1_000.0, busy_s=30)  # already passed: nothing to protect
    assert not vote_due_within([], now=1_000.0, busy_s=30)


# The miner's state machine against the fake market (tests/unit/node/fakes.py): claims, races, deadlines, batches,
# the cycle's budget and a restart at each step. What a unit's training yields is a stand-in (StubMode); the chain
# itself, and real training, are the integration tests' (tests/integration/node/test_roles.py).


def _role(services: Services, mode: StubMode, **kw: Any) -> MinerRole:
    return MinerRole(services, modes=lambda spec: mode, **kw)


def _rival_takes_the_rest(n: Node) -> None:
    """Every unit still open goes to a rival: what the node does next is about its own unit alone."""
    for i, unit in enumerate(n.market.units[(TASK, 0)][:-1]):
        if unit.status is UnitStatus.OPEN:
            n.market.take(TASK, 0, i, RIVAL)


def _mine(n: Node, index: int) -> bool:
    return n.market.units[(TASK, 0)][index].miner == n.market.me


def test_tick_claims_trains_and_submits_one_unit(tmp_path: Path) -> None:
    n, mode = node(tmp_path), StubMode()
    _role(n.services, mode).tick(n.services.cycle_at_head())
    assert (n.market.count("claimUnits"), n.market.count("submitResults"), len(mode.trained)) == (1, 1, 1)
    assert statuses(n.market).count(UnitStatus.SUBMITTED) == 1
    assert n.services.state.work_in_flight() == []


def test_tick_loses_a_claim_race_without_failing_and_claims_another_unit(tmp_path: Path) -> None:
    n, mode = node(tmp_path), StubMode()
    role = _role(n.services, mode)
    raced: list[int] = []

    def rival_first(task_id: int, round_: int, indices: list[int]) -> None:
        raced.extend(indices)
        n.market.take(task_id, round_, indices[0], RIVAL)

    n.market.before["claimUnits"] = rival_first
    role.tick(n.services.cycle_at_head())  # the cycle saw the unit open; the rival's claim landed first
    assert n.services.metrics.claim_races_lost._value.get() == 1
    assert (n.market.count("claimUnits"), n.market.count("submitResults")) == (1, 1), "the next unit, at once"
    assert len(mode.trained) == 1
    assert mode.trained[0][1] != raced[0], "another unit, not the rival's"
    assert n.market.units[(TASK, 0)][raced[0]].miner == RIVAL


def test_a_refused_batch_submission_goes_unit_by_unit_and_the_lost_unit_is_let_go(tmp_path: Path) -> None:
    n, mode = node(tmp_path, claim_batch=2), StubMode()
    role = _role(n.services, mode)
    role.tick(n.services.cycle_at_head())  # untimed: one unit alone, to learn how long a unit takes
    taken: list[int] = []

    def one_expires_and_is_taken(task_id: int, round_: int, results: list[tuple[int, bytes, bytes]]) -> None:
        index = results[0][0]
        taken.append(index)
        n.market.take(task_id, round_, index, RIVAL)  # reclaimed by a keeper, claimed by a rival meanwhile

    n.market.before["submitResults"] = one_expires_and_is_taken
    role.tick(n.services.cycle_at_head())  # claims 2 in one transaction, trains both, the batch is refused
    assert (n.market.count("claimUnits"), len(mode.trained)) == (2, 3)
    assert n.market.count("submitResults") == 1 + 1, "the other unit went alone"
    batch = [i for i, _ in enumerate(statuses(n.market)[:4]) if i != taken[0] and _mine(n, i)]
    assert all(n.market.units[(TASK, 0)][i].status is UnitStatus.SUBMITTED for i in batch)
    work = n.services.state.get_work(TASK, 0, taken[0])
    assert work is not None
    assert work.status is WorkStatus.ABANDONED, "the lost one reconciled, not resent"
    assert n.services.state.work_in_flight() == []


def test_a_claim_past_its_deadline_is_let_go_untrained(tmp_path: Path) -> None:
    n, mode = node(tmp_path), StubMode(fails=[KeyboardInterrupt("killed while training")])
    with pytest.raises(KeyboardInterrupt):
        _role(n.services, mode).tick(n.services.cycle_at_head())
    [work] = n.services.state.work_in_flight()
    _rival_takes_the_rest(n)
    n.market.now += 601  # the node was down past the claim timeout
    services = n.restarted(tmp_path)
    _role(services, mode).tick(services.cycle_at_head())
    row = services.state.get_work(TASK, 0, work.unit)
    assert row is not None
    assert (row.status, row.note) == (WorkStatus.ABANDONED, "deadline passed")
    assert (mode.trained, n.market.count("submitResults")) == ([], 0)


def test_a_claim_the_chain_forgot_then_mined_again_is_taken_back_and_its_unit_submitted(tmp_path: Path) -> None:
    """A reorganisation dropped the claim while its unit trained: the miner found the unit open and let its work go;
    then the signer sent the claim again and the chain mined it. The claim is the miner's again: taken back, trained
    and submitted, instead of left to expire (and its bond slashed)."""
    from node.state import Work

    n, mode = node(tmp_path), StubMode()
    n.services.state.put_work(Work(TASK, 0, 2, WorkStatus.ABANDONED, note="reconciled with the chain"))
    n.market.take(TASK, 0, 2, n.market.me)  # the claim, sent again as the same bytes, mined again
    _rival_takes_the_rest(n)
    _role(n.services, mode).tick(n.services.cycle_at_head())
    assert [unit for _, unit, *_ in mode.trained] == [2]
    assert n.market.count("submitResults") == 1
    assert n.market.units[(TASK, 0)][2].status is UnitStatus.SUBMITTED
    assert n.services.state.work_in_flight() == []


def test_a_claim_let_go_past_its_deadline_is_not_taken_back(tmp_path: Path) -> None:
    from node.state import Work

    n, mode = node(tmp_path), StubMode()
    n.services.state.put_work(Work(TASK, 0, 2, WorkStatus.ABANDONED, note="deadline passed"))
    n.market.take(TASK, 0, 2, n.market.me)
    _rival_takes_the_rest(n)
    n.market.now += 601  # past the claim timeout: a keeper reclaims it
    _role(n.services, mode).tick(n.services.cycle_at_head())
    assert (mode.trained, n.market.count("submitResults")) == ([], 0)


@pytest.mark.parametrize("step", ["claim landed, not recorded", "killed while training", "trained, not submitted",
                                  "submitted, not recorded"])  # fmt: skip
def test_a_miner_restarted_after_each_step_finishes_its_unit_once(tmp_path: Path, step: str) -> None:
    n, mode = node(tmp_path), StubMode()
    role = _role(n.services, mode)
    if step == "claim landed, not recorded":
        n.market.take(TASK, 0, 2, n.market.me)  # its transaction landed; the node died before writing the row
    elif step == "killed while training":
        mode.fails.append(KeyboardInterrupt(step))
        with pytest.raises(KeyboardInterrupt):
            role.tick(n.services.cycle_at_head())
    else:

        def killed(task_id: int, round_: int, results: list[tuple[int, bytes, bytes]]) -> None:
            if step == "submitted, not recorded":
                n.market._land("submitResults", (task_id, round_, tuple(i for i, _, _ in results)))
                for i, result, model in results:
                    n.market.units[(task_id, round_)][i] = replace(
                        n.market.units[(task_id, round_)][i],
                        status=UnitStatus.SUBMITTED,
                        result_digest=result,
                        model_digest=model,
                    )
            raise KeyboardInterrupt(step)

        n.market.before["submitResults"] = killed
        with pytest.raises(KeyboardInterrupt):
            role.tick(n.services.cycle_at_head())
    claims, trained = n.market.count("claimUnits"), len(mode.trained)
    _rival_takes_the_rest(n)

    services = n.restarted(tmp_path)
    _role(services, mode).tick(services.cycle_at_head())
    assert n.market.count("claimUnits") == claims, "nothing claimed again"
    assert n.market.count("submitResults") == 1, "submitted once"
    assert n.market.tried.count("submitResults") == (2 if step == "trained, not submitted" else 1), (
        "never sent again once it landed"
    )
    assert len(mode.trained) == (1 if step in ("claim landed, not recorded", "killed while training") else trained)
    assert statuses(n.market).count(UnitStatus.SUBMITTED) == 1
    assert services.state.work_in_flight() == []


def test_a_unit_not_started_when_the_cycle_budget_runs_out_is_trained_next_cycle(tmp_path: Path) -> None:
    n = node(tmp_path, claim_batch=2)
    ticks = [0.0]
    mode = StubMode()
    role = _role(n.services, mode)
    role.tick(n.services.cycle_at_head())  # untimed: one unit alone

    def spends_the_budget(job: UnitJob) -> TrainedUnit:
        ticks[0] += 10.0  # a unit's training takes the whole budget
        return StubMode.train(mode, job)

    head = n.market.latest()
    view = replace(n.services.begin_cycle(head.number, head.timestamp), budget_ends=5.0, clock=lambda: ticks[0])
    object.__setattr__(mode, "train", spends_the_budget)
    role.tick(view)  # claims 2 in one transaction, trains one, leaves the other for the next cycle
    assert (n.market.count("claimUnits"), len(mode.trained), n.market.count("submitResults")) == (2, 2, 2)
    [left] = n.services.state.work_in_flight()
    assert left.status is WorkStatus.CLAIMED
    _rival_takes_the_rest(n)
    role.tick(n.services.cycle_at_head())
    assert (n.market.count("claimUnits"), len(mode.trained), n.market.count("submitResults")) == (2, 3, 3)
    assert n.services.state.work_in_flight() == []
