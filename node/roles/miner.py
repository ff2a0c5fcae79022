"""The miner (and, with ``aggregate=True``, the aggregator): claims open units, trains or aggregates, publishes
the result to the store and submits its digest. An aggregate follows from the round's accepted results alone, so
the aggregator computes it first and claims and submits it in one transaction.

One unit at a time by default; with ``claim_batch`` above 1, a miner that has timed a unit claims as many training
units as it can train before the claim deadline in one transaction, trains them in turn and submits their results
in one transaction (earlier, the ones already trained, when the next would not finish before their deadline).
Work in flight is recorded in the node state at each stage, so a restarted miner finishes what it had claimed, or
notices it lost it; it never submits twice (the chain is read before every submission). Losing a claim race is a
normal event.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence

from node.chain.reverts import (
    TaskMarketClaimCoolingDown,
)
from node.chain.types import Task, TaskStatus, UnitInfo, UnitStatus
from node.errors import ContractRevert, NodeError, StepRefused
from node.ml.material import TaskMaterial
from node.ml.spec import TaskSpec
from node.protocol.modes import Mode, UnitJob, mode_of
from node.protocol.sender import send_batch_then_singles
from node.protocol.timing import JobTimer
from node.protocol.unit import unit_ref
from node.roles.aggregator import LOST_RACE, Aggregator
from node.roles.context import CycleView, Services
from node.roles.own_results import claims_blocked
from node.state import VoteStatus, Work, WorkStatus
from node.store.cid import to_digest

log = logging.getLogger(__name__)


class MinerRole:
    name = "miner"

    def __init__(
        self,
        services: Services,
        *,
        train: bool = True,
        aggregate: bool = False,
        modes: Callable[[TaskSpec], Mode] = mode_of,
    ) -> None:
        self.s = services
        self.train = train
        self.aggregate = aggregate
        self._mode_of = modes  # how a task's units are trained (a test adversary's wraps the honest modes)
        self._aggregator = Aggregator(services, refused=self._claim_refused)
        self._training = JobTimer()  # the longest unit this node has trained: what a new claim may block for
        # Per (task, round, unit): the chain time our own cooldown on it ends (the contract's error says when), and
        # the claim refusals already logged (a refusal is said once per unit, not every cycle).
        self._cooling: dict[tuple[int, int, int], int] = {}
        self._refusals_said: set[tuple[int, int, int, str]] = set()
        self._view = CycleView(0, 0)  # the cycle being worked in (set by each tick)

    # ---------------------------------------------------------------------------------------------- loop

    def tick(self, view: CycleView) -> None:
        """Finishes the work in flight, then claims what is open, as of ``view``; a unit not started before the
        cycle's budget ran out is started next cycle."""
        self._view = view
        live = {t.task_id for t in self.s.live_tasks()}
        self._cooling = {k: v for k, v in self._cooling.items() if k[0] in live}
        self._refusals_said = {k for k in self._refusals_said if k[0] in live}
        self._adopt_claims_found_on_chain()
        self._work_through(self.s.state.work_in_flight())
        if self.s.state.work_in_flight() or view.over_budget():
            return
        if self._own_votes_due_during_training():
            return
        self._claim_next()

    def _own_votes_due_during_training(self) -> bool:
        """A node that also verifies trains inside the same loop: a unit claimed now must not keep it from its own
        commits and reveals. No claim while a vote of ours is due sooner than a unit takes to train (twice the
        longest so far, plus a margin); the vote goes out first, the claim follows in a later cycle."""
        votes = [v for v in self.s.state.open_votes() if v.status is not VoteStatus.REVEALED]  # nothing owed
        if not votes or not self._training.timed:
            return False
        deadlines = [self.s.market.get_unit(v.task_id, v.round, v.unit).deadline for v in votes]
        if vote_due_within(deadlines, now=self.s.clock.now(), busy_s=2 * self._training.longest_s + 10):
            log.debug("not claiming: a vote of ours is due before a unit could be trained")
            return True
        return False

    def _adopt_claims_found_on_chain(self) -> None:
        """A claim of ours on chain that the state does not hold as work in flight is taken back: its transaction
        landed just before a crash (no row yet), or a reorganisation dropped it, the miner let its work go, and the
        signer sent it again and the chain mined it (an abandoned row, the claim's deadline still ahead)."""
        me = self.s.address
        now = self.s.clock.now()
        for task in self.s.live_tasks():
            r = task.state.current_round
            for index, unit in enumerate(self.s.round_units(task)):
                if unit.status is not UnitStatus.CLAIMED or unit.miner != me:
                    continue
                work = self.s.state.get_work(task.task_id, r, index)
                if work is None or (work.status is WorkStatus.ABANDONED and unit.deadline > now):
                    log.warning(
                        "adopting a claim found on chain",
                        extra={"task": task.task_id, "round": r, "unit": index,
                               "was": "unrecorded" if work is None else "let go"},
                    )  # fmt: skip
                    self.s.state.put_work(Work(task.task_id, r, index, WorkStatus.CLAIMED))

    def _claim_next(self) -> None:
        me = self.s.address
        # Start the scan at an offset from the address: miners spread over units instead of racing for unit 0.
        offset = int(hashlib.sha256(me.lower().encode()).hexdigest(), 16)
        now = self.s.clock.now()
        for task in self.s.live_tasks():
            material = self.s.materials.of(task)
            if material is None or claims_blocked(self.s, task, material) is not None:
                continue
            units = task.params.units_per_round
            snapshot = self.s.round_units(task)
            candidates = []
            if self.train:
                candidates += [(offset + k) % units for k in range(units)]
            if self.aggregate:
                candidates.append(units)
            # As of this cycle's block; a claim taken since is a lost race below. A unit our cooldown still holds
            # is not tried (the contract would refuse it until then).
            r = task.state.current_round
            candidates = [
                i
                for i in candidates
                if _claimable(task, i, snapshot[i]) and self._cooling.get((task.task_id, r, i), 0) <= now
            ]
            batch = [i for i in candidates if i < units][: self._claim_size(task)]
            if len(batch) > 1 and self._claim(task, material, batch):
                return
            for index in candidates:
                if not self.s.staking.ensure_free(task.params.unit_bond, "claim"):
                    return
                if index == units:
                    if self._aggregator.aggregate_and_submit(task):
                        return
                elif self._claim(task, material, [index]):
                    return

    def _claim_size(self, task: Task) -> int:
        """How many training units one claim takes: as many as ``claim_batch`` allows and this node can train, one
        after the other, before the claim deadline; one until it has timed a unit."""
        if self.s.settings.claim_batch == 1 or not self._training.timed:
            return 1
        fits = int(task.params.claim_timeout // self._training.estimate_s())
        return max(1, min(self.s.settings.claim_batch, fits))

    def _claim(self, task: Task, material: TaskMaterial, indices: list[int]) -> bool:
        """Claims ``indices`` in one transaction and works through them; False when the claim was refused (a batch
        is refused whole: the caller tries one unit at a time), or when a unit's shard cannot be had yet."""
        r = task.state.current_round
        if len(indices) > 1 and not self.s.staking.ensure_free(task.params.unit_bond * len(indices), "claim"):
            return False
        if not self.s.materials.shards_at_hand(
            task, material, indices
        ):  # before the claim: after it, a wait costs the bond
            return False
        try:
            self.s.market.claim_units(task.task_id, r, indices)
        except LOST_RACE as err:
            self._claim_refused(task.task_id, r, indices, err)
            return False
        self.s.metrics.units_claimed.inc(len(indices))
        self.s.metrics.tx_sent.labels("claimUnits").inc()
        log.info("claimed", extra={"task": task.task_id, "round": r, "units": indices})
        works = [Work(task.task_id, r, index, WorkStatus.CLAIMED) for index in indices]
        for work in works:
            self.s.state.put_work(work)
        self._work_through(works)
        return True

    def _claim_refused(self, task_id: int, round_: int, indices: list[int], err: ContractRevert) -> None:
        """A claim another miner won, or not open to us yet: counted each time, logged once per unit and reason. Our
        own cooldown is remembered until it ends, so the unit is not tried again before then."""
        self.s.metrics.claim_races_lost.inc()
        if isinstance(err, TaskMarketClaimCoolingDown):
            until = err.values.get("until")
            index = err.values.get("index")
            if isinstance(until, int) and isinstance(index, int):
                self._cooling[(task_id, round_, index)] = until
        key = (task_id, round_, min(indices), err.error_name)
        if key in self._refusals_said:
            return
        self._refusals_said.add(key)
        message = "cooling down on a unit" if isinstance(err, TaskMarketClaimCoolingDown) else "lost a claim race"
        log.info(message, extra={"task": task_id, "round": round_, "units": indices, "error": err.error_name})

    def _work_through(self, works: list[Work]) -> None:
        """Trains (or reconciles) each unit in flight, then submits every trained one, a task round's in one call.
        Before training another unit, the trained ones go out if it would not finish before their deadline."""
        for work in works:
            if work.status is WorkStatus.CLAIMED and self._view.over_budget():
                log.info("cycle budget spent: the next unit is trained next cycle", extra={"task": work.task_id})
                break
            if work.status is WorkStatus.CLAIMED and self._training_would_outlast_published():
                self._submit_published()
            self._advance(work)
        self._submit_published()

    # ---------------------------------------------------------------------------------------------- one unit

    def _advance(self, work: Work) -> None:
        market = self.s.market
        unit = market.get_unit(work.task_id, work.round, work.unit)
        mine = unit.miner == self.s.address
        if unit.status is not UnitStatus.CLAIMED or not mine:
            landed = mine and unit.status in (
                UnitStatus.SUBMITTED,
                UnitStatus.REVEALING,
                UnitStatus.DECIDED,
                UnitStatus.ACCEPTED,
            )
            status = WorkStatus.SUBMITTED if landed else WorkStatus.ABANDONED
            self.s.state.put_work(
                Work(
                    work.task_id,
                    work.round,
                    work.unit,
                    status,
                    work.result_cid,
                    work.model_cid,
                    "reconciled with the chain",
                )
            )
            log.info(
                "work reconciled",
                extra={"task": work.task_id, "round": work.round, "unit": work.unit, "status": status.value},
            )
            return
        if unit.deadline < self.s.clock.now():
            log.warning("claim deadline passed", extra={"task": work.task_id, "round": work.round, "unit": work.unit})
            self.s.state.put_work(
                Work(work.task_id, work.round, work.unit, WorkStatus.ABANDONED, note="deadline passed")
            )
            return
        task = market.get_task(work.task_id)
        material = self.s.materials.of(task)
        if material is None:
            return
        if work.status is WorkStatus.CLAIMED:
            started = time.monotonic()
            if work.unit == task.params.units_per_round:
                result_cid, model_cid = self._aggregator.aggregate(task, work, material)
            else:
                try:
                    result_cid, model_cid = self._train(task, work, material)
                except StepRefused as err:
                    # The unit could not be carried now (split mode: the owner's node did not answer or refused a
                    # step). It is tried again from its start next cycle; if the owner stays silent past the
                    # deadline, the claim expires and the contract unlocks the bond (ownerInLoop), no slash.
                    log.warning(
                        "unit not carried through: trying again",
                        extra={"task": work.task_id, "round": work.round, "unit": work.unit, "error": str(err)},
                    )
                    return
            elapsed = time.monotonic() - started
            self.s.metrics.training_seconds.inc(elapsed)
            log.info(
                "work done",
                extra={"task": work.task_id, "round": work.round, "unit": work.unit, "seconds": round(elapsed, 3)},
            )
            work = Work(work.task_id, work.round, work.unit, WorkStatus.PUBLISHED, result_cid, model_cid)
            self.s.state.put_work(work)

    def _training_would_outlast_published(self) -> bool:
        """Whether training one more unit (as long as the longest so far, with a margin) would end past the claim
        deadline of a unit already trained and not yet submitted."""
        published = [w for w in self.s.state.work_in_flight() if w.status is WorkStatus.PUBLISHED]
        if not published:
            return False
        deadlines = (self.s.market.get_unit(w.task_id, w.round, w.unit).deadline for w in published)
        return self._training.would_outlast(deadlines, now=self.s.clock.now())

    def _submit_published(self) -> None:
        """Submits every trained unit still ours, a task round's in one transaction. The chain is read right
        before: a unit whose submission landed before a crash, or that was lost, is reconciled, not resent."""
        groups: dict[tuple[int, int], list[Work]] = {}
        for work in self.s.state.work_in_flight():
            if work.status is not WorkStatus.PUBLISHED:
                continue
            unit = self.s.market.get_unit(work.task_id, work.round, work.unit)
            if unit.status is not UnitStatus.CLAIMED or unit.miner != self.s.address:
                self._advance(work)  # reconciles it with the chain
                continue
            groups.setdefault((work.task_id, work.round), []).append(work)
        for (task_id, round_), works in groups.items():

            def refused(err: Exception, task_id: int = task_id, round_: int = round_) -> None:
                log.warning(
                    "batch submission refused: one unit at a time",
                    extra={"task": task_id, "round": round_, "error": _name(err)},
                )

            send_batch_then_singles(
                works,
                self._send_results,
                refused=(ContractRevert,),
                batch_refused=refused,
                item_refused=self._submission_refused,
            )

    def _submission_refused(self, work: Work, err: Exception) -> None:
        """A unit whose submission was refused on its own: reconciled with the chain (taken back, expired: let go;
        still ours with time left: sent again next cycle)."""
        log.warning(
            "submission refused",
            extra={"task": work.task_id, "round": work.round, "unit": work.unit, "error": _name(err)},
        )
        self._advance(work)

    def _send_results(self, works: Sequence[Work]) -> None:
        """Submits ``works`` (one task round's) in one transaction."""
        task_id, round_ = works[0].task_id, works[0].round
        results = []
        for work in works:
            if work.result_cid is None or work.model_cid is None:  # pragma: no cover - PUBLISHED rows have both
                raise NodeError(f"work {work} was published without its digests")
            results.append((work.unit, to_digest(work.result_cid), to_digest(work.model_cid)))
        sent = self.s.market.submit_results(task_id, round_, results)
        self.s.metrics.units_submitted.inc(len(works))
        self.s.metrics.tx_sent.labels("submitResults").inc()
        for work in works:
            self.s.state.put_work(
                Work(work.task_id, work.round, work.unit, WorkStatus.SUBMITTED, work.result_cid, work.model_cid)
            )
            log.info(
                "submitted",
                extra={
                    "task": work.task_id,
                    "round": work.round,
                    "unit": work.unit,
                    "result": work.result_cid,
                    "tx": sent.tx_hash,
                },
            )

    def _train(self, task: Task, work: Work, material: TaskMaterial) -> tuple[str, str]:
        began = time.monotonic()
        mode = self._mode_of(material.spec)
        model, _ = self.s.materials.round_model(task, work.round, material)
        job = UnitJob(
            unit_ref(self.s.market, task, work.round, work.unit, self.s.address),
            material,
            model,
            material.shard(work.unit),
            put=self.s.store.put,
            account=self.s.market.signer.account,
            hardware=self.s.hardware,
        )
        trained = mode.train(job)
        training_s = time.monotonic() - began
        self._training.record(training_s)
        log.info(
            "trained",
            extra={
                "task": task.task_id,
                "round": work.round,
                "unit": work.unit,
                "loss": trained.loss,
                "manifest": trained.result_cid,
                "training_s": round(training_s, 3),
                "mode": mode.name,
            },
        )
        return trained.result_cid, trained.model_cid


def _name(err: Exception) -> str:
    return err.error_name if isinstance(err, ContractRevert) else type(err).__name__


def _claimable(task: Task, index: int, unit: UnitInfo) -> bool:
    """The contract's ``isClaimable``, from a unit already read: open, and for the aggregation unit, every
    training unit of the round accepted."""
    if task.state.status is not TaskStatus.ACTIVE or unit.status is not UnitStatus.OPEN:
        return False
    return index < task.params.units_per_round or task.state.accepted_in_round == task.params.units_per_round


def vote_due_within(deadlines: list[int], *, now: float, busy_s: float) -> bool:
    """Whether a deadline (chain seconds) still ahead falls within the next ``busy_s`` seconds."""
    return any(now <= deadline <= now + busy_s for deadline in deadlines)
