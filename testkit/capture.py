"""The judges' capture attack of issue 29, FOR TESTS AND BENCHMARKS ONLY, with the deployed ABI and public calls
alone. One owner holds a miner account, verifier accounts in the pool (its stake split over as many as it likes),
a purse outside the pool for challenge bonds, and decoy tasks of its own. Every pass it:

- claims open units of the target task and submits digests of bytes that exist nowhere (junk);
- just before its junk's quorum is drawn, draws the quorums of its decoy tasks, whose vote bond is sized to eat an
  honest verifier's free stake (the old rule then skipped those verifiers in the next draw);
- draws, commits and reveals with its drawn accounts: "valid" on its junk, "invalid" on everyone else's;
- stays away from an appeal of its junk that someone else brought (the old rule let such an appeal lapse with the
  challenged verdict final);
- challenges every verdict against its junk up the ladder (the old rule drew each level without everyone who had
  sat, by account, so forcing levels emptied the honest side), and, with ``grief``, every honest acceptance.

What it spent and earned is read back from the chain by the caller (stake and credit of ``accounts``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from node.chain.contract import TaskMarket
from node.chain.hashing import new_salt
from node.chain.types import MAX_APPEAL_LEVEL, TaskParams, TaskStatus, UnitStatus, seats_at
from node.errors import ContractRevert


@dataclass
class CaptureAttacker:
    miner: TaskMarket
    voters: list[TaskMarket]
    purse: TaskMarket
    task_id: int
    decoys: list[int] = field(default_factory=list)
    grief: bool = False
    junk: set[bytes] = field(default_factory=set)
    votes: dict[tuple[str, int, int, int], tuple[bool, bytes]] = field(default_factory=dict)
    decoys_drawn: int = 0
    challenges: int = 0
    no_shows: int = 0
    # (round, unit, level) of the appeals it brought itself (the others it stays away from).
    ours: set[tuple[int, int, int]] = field(default_factory=set)

    @property
    def accounts(self) -> list[str]:
        return [self.miner.signer.address, self.purse.signer.address, *(v.signer.address for v in self.voters)]

    def step(self) -> None:
        task = self.miner.get_task(self.task_id)
        if task.state.status is not TaskStatus.ACTIVE:
            return
        r = task.state.current_round
        self._prepare_decoys()
        for index, unit in enumerate(self.miner.get_units(self.task_id, r)):
            ours = bytes(unit.result_digest) in self.junk
            if unit.status is UnitStatus.OPEN:
                self._claim_and_submit_junk(r, index)
            elif unit.status is UnitStatus.SUBMITTED:
                if unit.seats < seats_at(task.params.quorum, unit.level):
                    if ours:
                        self._draw_decoys()
                    self._draw(r, index)
                if ours and unit.level > 0 and not self._brought_by_us(r, index, unit.level):
                    self.no_shows += 1  # an appeal against our junk: stay away, hoping it lapses
                    continue
                for voter in self.voters:
                    self._commit(voter, r, index, unit.epoch, valid=ours)
            elif unit.status is UnitStatus.REVEALING:
                for voter in self.voters:
                    self._reveal(voter, r, index, unit.epoch)
            elif unit.status is UnitStatus.DECIDED and unit.level < MAX_APPEAL_LEVEL:
                self._appeal_if_against_us(r, index, ours=ours, verdict=unit.verdict, level=unit.level)

    # ------------------------------------------------------------------------------------------------ the parts

    def _draw(self, round_: int, index: int) -> None:
        self._try(lambda: self.voters[0].draw_verifiers(self.task_id, round_, index))

    def _appeal_if_against_us(self, round_: int, index: int, *, ours: bool, verdict: bool, level: int) -> None:
        if not ((ours and not verdict) or (self.grief and not ours and verdict)):
            return
        if self._try(lambda: self.purse.challenge_verdict(self.task_id, round_, index)):
            self.challenges += 1
            self.ours.add((round_, index, level + 1))

    def _brought_by_us(self, round_: int, index: int, level: int) -> bool:
        return (round_, index, level) in self.ours

    def _claim_and_submit_junk(self, round_: int, index: int) -> None:
        if not self._try(lambda: self.miner.claim_unit(self.task_id, round_, index)):
            return
        result, model = os.urandom(32), os.urandom(32)  # digests of bytes that exist nowhere
        self.junk.add(result)
        if self._try(lambda: self.miner.submit_result(self.task_id, round_, index, result, model)):
            # The junk's quorum can be drawn from the next block on, by anyone: draw the decoys now, first.
            self._draw_decoys()

    def _prepare_decoys(self) -> None:
        """Keeps every decoy's unit submitted (its seed block mined by the time our junk's quorum is drawn)."""
        for decoy in self.decoys:
            if self.miner.get_unit(decoy, 0, 0).status is UnitStatus.OPEN and self._try(
                lambda d=decoy: self.miner.claim_unit(d, 0, 0)  # type: ignore[misc]
            ):
                self._try(lambda d=decoy: self.miner.submit_result(d, 0, 0, os.urandom(32), os.urandom(32)))  # type: ignore[misc]

    def _draw_decoys(self) -> None:
        """Seats (and, under the old rule, bonded) honest verifiers on the decoys' quorums right before ours."""
        for decoy in self.decoys:
            unit = self.miner.get_unit(decoy, 0, 0)
            if unit.status is UnitStatus.SUBMITTED and self._try(
                lambda d=decoy: self.voters[0].draw_verifiers(d, 0, 0)  # type: ignore[misc]
            ):
                self.decoys_drawn += 1

    def _commit(self, voter: TaskMarket, round_: int, index: int, epoch: int, *, valid: bool) -> None:
        ballot = voter.get_ballot(self.task_id, round_, index, voter.signer.address)
        if ballot.seats == 0 or ballot.committed:
            return
        valid, salt = self.votes.setdefault((voter.signer.address, round_, index, epoch), (valid, new_salt()))
        self._try(lambda: voter.commit_vote_for(self.task_id, round_, index, valid, salt))

    def _reveal(self, voter: TaskMarket, round_: int, index: int, epoch: int) -> None:
        vote = self.votes.get((voter.signer.address, round_, index, epoch))
        if vote is None:
            return
        ballot = voter.get_ballot(self.task_id, round_, index, voter.signer.address)
        if ballot.revealed or not ballot.committed:
            return
        self._try(lambda: voter.reveal_vote(self.task_id, round_, index, *vote))

    @staticmethod
    def _try(send: Callable[[], object]) -> bool:
        try:
            send()
        except ContractRevert:
            return False  # a race lost, a window closed: try again next pass
        return True


def decoy_params(vote_bond: int, *, quorum: int = 15, timeouts_s: int = 60) -> TaskParams:
    """A decoy task of the attacker's own: one unit, the largest quorum, a vote bond of ``vote_bond`` (sized to an
    honest verifier's free stake), rewards of one wei and material that exists nowhere."""
    return TaskParams(
        spec_digest=os.urandom(32),
        dataset_digest=os.urandom(32),
        initial_model_digest=os.urandom(32),
        rounds=1,
        units_per_round=1,
        quorum=quorum,
        claim_timeout=timeouts_s,
        commit_timeout=timeouts_s,
        reveal_timeout=timeouts_s,
        miner_reward=1,
        aggregator_reward=1,
        verifier_reward=1,
        unit_bond=quorum,
        vote_bond=vote_bond,
        challenge_window=0,
        owner_in_loop=False,
    )
