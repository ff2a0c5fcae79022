"""The verifier: joins the quorum of submitted units it can serve, re-executes with its challenge seed,
commits its vote (salt on disk first), and reveals once the reveal phase opens.

A verdict the verifier cannot reach (bytes unavailable) is retried on the next cycle, never voted blindly.
"""

from __future__ import annotations

import hashlib
import logging
import time

from node.chain.hashing import challenge_seed, new_salt, unit_seed, vote_commitment
from node.chain.reverts import (
    TaskMarketAlreadyCommitted,
    TaskMarketDeadlinePassed,
    TaskMarketUnitWrongStatus,
)
from node.chain.types import Task, UnitInfo, UnitStatus
from node.errors import DmlnetError, SpecError
from node.ml.aggregate import verify_aggregate
from node.ml.manifest import parse_aggregate
from node.ml.model import state_from_bytes
from node.ml.verify import Outcome, UnitContext, Verdict, verify_unit
from node.roles.context import Services, TaskMaterial
from node.roles.miner import accepted_contributions
from node.state import Vote, VoteStatus
from node.store.cid import to_cid

log = logging.getLogger(__name__)

GONE = (TaskMarketUnitWrongStatus, TaskMarketDeadlinePassed, TaskMarketAlreadyCommitted)


class VerifierRole:
    name = "verifier"

    def __init__(self, services: Services) -> None:
        self.s = services

    def tick(self) -> None:
        for vote in self.s.state.open_votes():
            self._follow_up(vote)
        for task in self.s.live_tasks():
            material = self.s.material(task)
            if material is None:
                continue
            r = task.state.current_round
            units = self.s.round_units(task)
            # Start at an offset from the address: verifiers spread over the submitted units instead of all
            # re-executing the same one first when a quorum has room for only some of them.
            offset = int(hashlib.sha256(self.s.address.lower().encode()).hexdigest(), 16) % len(units)
            for index in [(offset + k) % len(units) for k in range(len(units))]:
                if not self._should_vote(task, units[index], r, index):
                    continue
                # The cycle's snapshot may be stale by now (our own votes, other verifiers'): re-executing a
                # unit whose quorum filled meanwhile would be wasted work.
                fresh = self.s.market.get_unit(task.task_id, r, index)
                if self._should_vote(task, fresh, r, index):
                    self._vote(task, fresh, r, index, material)

    # ---------------------------------------------------------------------------------------------- votes

    def _should_vote(self, task: Task, unit: UnitInfo, round_: int, index: int) -> bool:
        if unit.status is not UnitStatus.SUBMITTED or unit.miner == self.s.address:
            return False
        if unit.commits >= task.params.quorum or unit.deadline < self.s.clock.now():
            return False
        if self.s.state.get_vote(task.task_id, round_, index, unit.epoch) is not None:
            return False
        return not self.s.market.get_ballot(task.task_id, round_, index, self.s.address).committed

    def _vote(self, task: Task, unit: UnitInfo, round_: int, index: int, material: TaskMaterial) -> None:
        started = time.process_time()
        verdict = self._verdict(task, unit, round_, index, material)
        self.s.metrics.verification_seconds.observe(time.process_time() - started)
        if verdict.outcome is Outcome.UNAVAILABLE:
            log.warning(
                "cannot verify yet",
                extra={"task": task.task_id, "round": round_, "unit": index, "reason": verdict.reason},
            )
            return
        evidence = [(c.segment, f"{c.distance:.3g}") for c in verdict.segments]
        log.info(
            "verified",
            extra={
                "task": task.task_id, "round": round_, "unit": index, "epoch": unit.epoch,
                "valid": verdict.valid, "reason": verdict.reason, "segments": evidence,
            },
        )  # fmt: skip
        if not self.s.ensure_free_stake(task.params.vote_bond, "vote"):
            return
        # The salt is on disk before the commitment that depends on it leaves this process.
        vote = self.s.state.store_vote(
            Vote(
                task.task_id,
                round_,
                index,
                unit.epoch,
                verdict.valid,
                new_salt(),
                VoteStatus.STORED,
                verdict.reason[:500],
            )
        )
        self._commit(vote)

    def _commit(self, vote: Vote) -> None:
        ballot = self.s.market.get_ballot(vote.task_id, vote.round, vote.unit, self.s.address)
        unit = self.s.market.get_unit(vote.task_id, vote.round, vote.unit)
        if unit.epoch == vote.epoch and ballot.committed:
            ours = ballot.commitment == vote_commitment(
                vote.task_id, vote.round, vote.unit, self.s.address, vote.valid, vote.salt
            )
            self.s.state.set_vote_status(vote, VoteStatus.COMMITTED if ours else VoteStatus.ABANDONED)
            return
        if unit.epoch != vote.epoch or unit.status is not UnitStatus.SUBMITTED:
            self.s.state.set_vote_status(vote, VoteStatus.ABANDONED)
            return
        try:
            sent = self.s.market.commit_vote_for(vote.task_id, vote.round, vote.unit, vote.valid, vote.salt)
        except GONE as err:
            log.info(
                "commit no longer possible", extra={"task": vote.task_id, "unit": vote.unit, "error": err.error_name}
            )
            self.s.state.set_vote_status(vote, VoteStatus.ABANDONED)
            return
        self.s.state.set_vote_status(vote, VoteStatus.COMMITTED)
        self.s.metrics.votes_committed.labels("valid" if vote.valid else "invalid").inc()
        self.s.metrics.tx_sent.labels("commitVote").inc()
        log.info("committed", extra={"task": vote.task_id, "round": vote.round, "unit": vote.unit, "tx": sent.tx_hash})

    def _follow_up(self, vote: Vote) -> None:
        if vote.status is VoteStatus.STORED:
            self._commit(vote)
            return
        unit = self.s.market.get_unit(vote.task_id, vote.round, vote.unit)
        if unit.epoch != vote.epoch or unit.status not in (UnitStatus.SUBMITTED, UnitStatus.REVEALING):
            # The epoch ended: settled with or without us (a missed reveal was slashed), or reopened.
            self.s.state.set_vote_status(vote, VoteStatus.ABANDONED)
            return
        if unit.status is not UnitStatus.REVEALING:
            return  # the commit phase is still open
        ballot = self.s.market.get_ballot(vote.task_id, vote.round, vote.unit, self.s.address)
        if ballot.revealed:
            self.s.state.set_vote_status(vote, VoteStatus.REVEALED)
            return
        try:
            sent = self.s.market.reveal_vote(vote.task_id, vote.round, vote.unit, vote.valid, vote.salt)
        except GONE as err:
            log.warning(
                "reveal no longer possible", extra={"task": vote.task_id, "unit": vote.unit, "error": err.error_name}
            )
            self.s.state.set_vote_status(vote, VoteStatus.ABANDONED)
            return
        self.s.state.set_vote_status(vote, VoteStatus.REVEALED)
        self.s.metrics.votes_revealed.inc()
        self.s.metrics.tx_sent.labels("revealVote").inc()
        log.info(
            "revealed",
            extra={
                "task": vote.task_id,
                "round": vote.round,
                "unit": vote.unit,
                "valid": vote.valid,
                "tx": sent.tx_hash,
            },
        )

    # ---------------------------------------------------------------------------------------------- verdicts

    def _verdict(self, task: Task, unit: UnitInfo, round_: int, index: int, material: TaskMaterial) -> Verdict:
        block = self.s.market.w3.eth.get_block(unit.submitted_block)
        challenge = challenge_seed(bytes(block["hash"]), self.s.address)
        result_cid = to_cid(unit.result_digest)
        if index == task.params.units_per_round:
            return self._verify_aggregate(task, unit, round_, material, result_cid)
        try:
            manifest = self.s.fetch(result_cid)
            _, input_cid = self.s.round_model(task, round_, material)
        except DmlnetError as err:
            return Verdict(Outcome.UNAVAILABLE, f"could not fetch the manifest: {err}")
        ctx = UnitContext(
            task_id=task.task_id,
            round=round_,
            index=index,
            miner=unit.miner,
            spec_cid=material.spec_cid,
            dataset_cid=material.dataset_cid,
            input_model_cid=input_cid,
            unit_seed=unit_seed(task.task_id, round_, index, unit.miner),
        )
        return verify_unit(
            material.spec,
            manifest,
            self.s.fetch,
            challenge,
            ctx,
            material.split.shards[index],
            threads=self.s.settings.threads,
        )

    def _verify_aggregate(
        self, task: Task, unit: UnitInfo, round_: int, material: TaskMaterial, result_cid: str
    ) -> Verdict:
        try:
            manifest = parse_aggregate(self.s.fetch(result_cid))
        except SpecError as err:
            return Verdict(Outcome.INVALID, f"malformed aggregate manifest: {err}")
        except DmlnetError as err:
            return Verdict(Outcome.UNAVAILABLE, f"could not fetch the manifest: {err}")
        expected = {
            "task_id": task.task_id,
            "round": round_,
            "index": task.params.units_per_round,
            "model": to_cid(unit.model_digest),
        }
        for field, value in expected.items():
            if getattr(manifest, field) != value:
                return Verdict(
                    Outcome.INVALID, f"aggregate manifest {field} is {getattr(manifest, field)}, expected {value}"
                )
        if manifest.aggregator.lower() != unit.miner.lower():
            return Verdict(Outcome.INVALID, "the aggregate manifest names another aggregator")
        try:
            contributions, _ = accepted_contributions(self.s, task, round_, material)
            claimed = state_from_bytes(self.s.fetch(manifest.model), material.model_specs)
        except SpecError as err:
            return Verdict(Outcome.INVALID, f"aggregate model refused: {err}")
        except DmlnetError as err:
            return Verdict(Outcome.UNAVAILABLE, f"could not fetch an input: {err}")
        check = verify_aggregate(
            material.spec, contributions, claimed, set(material.parameter_keys), task_id=task.task_id, round_=round_
        )
        return Verdict(Outcome.VALID if check.valid else Outcome.INVALID, check.reason)
