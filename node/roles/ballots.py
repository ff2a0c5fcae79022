"""A verifier's ballots after its verdicts: each stored vote (its salt already on disk) is committed, a task round's in
one transaction, and revealed once the reveal phase opens; a vote whose seat was released, whose epoch ended or
whose deadline passed is let go, never sent blind. A batch refused whole goes vote by vote
(:func:`~node.protocol.sender.send_batch_then_singles`), so the others still count.

``commitment_of`` and ``follow_up`` are where a test adversary votes otherwise (``testkit.adversaries``)."""

from __future__ import annotations

import logging

from node.chain.hashing import vote_commitment
from node.chain.reverts import (
    TaskMarketAlreadyCommitted,
    TaskMarketDeadlinePassed,
    TaskMarketNoBallot,
    TaskMarketNotSelected,
    TaskMarketUnitWrongStatus,
)
from node.chain.types import UnitStatus
from node.errors import ContractRevert
from node.protocol.sender import send_batch_then_singles
from node.roles.context import Services
from node.state import Vote, VoteStatus

log = logging.getLogger(__name__)

# A vote that can no longer go in: a batch holding one is sent again vote by vote, and the vote is let go. (No
# ballot: the seat is not ours, e.g. a vote from a state another node wrote; one such vote used to refuse every
# batch reveal of its task round until the deadline passed and the real votes were slashed.)
GONE = (
    TaskMarketUnitWrongStatus,
    TaskMarketDeadlinePassed,
    TaskMarketAlreadyCommitted,
    TaskMarketNotSelected,
    TaskMarketNoBallot,
)


def _name(err: Exception) -> str:
    return err.error_name if isinstance(err, ContractRevert) else type(err).__name__


class Ballots:
    def __init__(self, services: Services) -> None:
        self.s = services

    def commit_stored(self) -> None:
        self.commit([v for v in self.s.state.open_votes() if v.status is VoteStatus.STORED])

    def commit(self, votes: list[Vote]) -> None:
        """Commits the votes that still owe their commitment, a task round's in one transaction. A batch is refused
        whole when one of its units can no longer take it (its deadline passed, its seat released since the read):
        then each vote goes alone, so that the others still count and the failing one is let go."""
        groups: dict[tuple[int, int], list[tuple[Vote, bytes]]] = {}
        for vote in votes:
            commitment = self._owed_commitment(vote)
            if commitment is not None:
                groups.setdefault((vote.task_id, vote.round), []).append((vote, commitment))
        for batch in groups.values():

            def refused(err: Exception, first: Vote = batch[0][0]) -> None:
                log.warning(
                    "batch commit refused: one vote at a time",
                    extra={"task": first.task_id, "round": first.round, "error": _name(err)},
                )

            def gone(one: tuple[Vote, bytes], err: Exception) -> None:
                vote = one[0]
                log.info(
                    "commit no longer possible", extra={"task": vote.task_id, "unit": vote.unit, "error": _name(err)}
                )
                self.s.state.set_vote_status(vote, VoteStatus.ABANDONED)

            send_batch_then_singles(
                batch, lambda b: self._send_commitments(list(b)), refused=GONE, batch_refused=refused, item_refused=gone
            )

    def _owed_commitment(self, vote: Vote) -> bytes | None:
        """The commitment to send for this vote, or None when there is none to send (now): its ballot already
        holds it, its epoch is over or its seat released (the vote is settled in the state), or the commitment is
        not ready yet (asked again next cycle)."""
        ballot = self.s.market.get_ballot(vote.task_id, vote.round, vote.unit, self.s.address)
        unit = self.s.market.get_unit(vote.task_id, vote.round, vote.unit)
        if unit.epoch == vote.epoch and ballot.seats == 0:
            self.s.state.set_vote_status(vote, VoteStatus.ABANDONED)
            log.warning(
                "no seat on chain for this vote (released after its commit window, or its draw undone by a "
                "reorganisation): let go, judged again if drawn again",
                extra={"task": vote.task_id, "round": vote.round, "unit": vote.unit, "epoch": vote.epoch},
            )
            return None
        if unit.epoch == vote.epoch and ballot.committed:
            ours = ballot.commitment == vote_commitment(
                vote.task_id, vote.round, vote.unit, self.s.address, vote.valid, vote.salt
            )
            self.s.state.set_vote_status(vote, VoteStatus.COMMITTED if ours else VoteStatus.ABANDONED)
            return None
        if unit.epoch != vote.epoch or unit.status is not UnitStatus.SUBMITTED or not vote.judged(unit.result_digest):
            self.s.state.set_vote_status(vote, VoteStatus.ABANDONED)  # another result: judged afresh, new salt
            return None
        return self.commitment_of(vote)

    def commitment_of(self, vote: Vote) -> bytes | None:
        """The commitment of a stored vote (its salt is already on disk)."""
        return vote_commitment(vote.task_id, vote.round, vote.unit, self.s.address, vote.valid, vote.salt)

    def _send_commitments(self, batch: list[tuple[Vote, bytes]]) -> None:
        first = batch[0][0]
        sent = self.s.market.commit_votes(first.task_id, first.round, [(v.unit, c) for v, c in batch])
        for vote, _ in batch:
            self.s.state.set_vote_status(vote, VoteStatus.COMMITTED)
            self.s.metrics.votes_committed.labels("valid" if vote.valid else "invalid").inc()
        self.s.metrics.tx_sent.labels("commitVotes").inc()
        log.info(
            "committed",
            extra={
                "task": first.task_id,
                "round": first.round,
                "units": [v.unit for v, _ in batch],
                "tx": sent.tx_hash,
            },
        )

    def follow_up_all(self, votes: list[Vote]) -> None:
        """Commits the stored votes (left by a crash, or waiting for their commitment), moves each committed vote
        on; the votes due for their reveal go out together, a transaction per task and round."""
        self.commit([v for v in votes if v.status is VoteStatus.STORED])
        due: dict[tuple[int, int], list[Vote]] = {}
        for vote in votes:
            if vote.status is not VoteStatus.STORED and self.follow_up(vote):
                due.setdefault((vote.task_id, vote.round), []).append(vote)
        for batch in due.values():
            self._reveal(batch)

    def follow_up(self, vote: Vote) -> bool:
        """Settles what became of a committed (or revealed) vote; True when it is due for its reveal. A revealed vote
        is followed until its epoch's vote is over: a reorganisation that dropped our commit or reveal has it sent
        again, with the salt on disk."""
        unit = self.s.market.get_unit(vote.task_id, vote.round, vote.unit)
        if unit.epoch != vote.epoch or unit.status not in (UnitStatus.SUBMITTED, UnitStatus.REVEALING):
            # The epoch ended: settled with or without us (a missed reveal was slashed), or reopened.
            self.s.state.set_vote_status(
                vote, VoteStatus.SETTLED if vote.status is VoteStatus.REVEALED else VoteStatus.ABANDONED
            )
            return False
        if not vote.judged(unit.result_digest):
            # A reorganisation replaced the submission under this epoch number: this vote is not on it.
            self.s.state.set_vote_status(vote, VoteStatus.ABANDONED)
            return False
        if unit.status is UnitStatus.SUBMITTED:
            ballot = self.s.market.get_ballot(vote.task_id, vote.round, vote.unit, self.s.address)
            if ballot.seats == 0 or not ballot.committed:
                self.commit([vote])  # our seat was released, or we were drawn into another: it owes our commitment
            return False
        ballot = self.s.market.get_ballot(vote.task_id, vote.round, vote.unit, self.s.address)
        if ballot.revealed:
            self.s.state.set_vote_status(vote, VoteStatus.REVEALED)
            return False
        return True

    def _reveal(self, votes: list[Vote]) -> None:
        """Reveals votes of one task and round in one transaction. A batch is refused whole when one of its units
        can no longer take the reveal (its deadline passed, settled by a finalize): then each is revealed alone."""

        def gone(vote: Vote, err: Exception) -> None:
            log.warning(
                "reveal no longer possible", extra={"task": vote.task_id, "unit": vote.unit, "error": _name(err)}
            )
            self.s.state.set_vote_status(vote, VoteStatus.ABANDONED)

        send_batch_then_singles(votes, lambda b: self._send_reveals(list(b)), refused=GONE, item_refused=gone)

    def _send_reveals(self, votes: list[Vote]) -> None:
        first = votes[0]
        sent = self.s.market.reveal_votes(first.task_id, first.round, [(v.unit, v.valid, v.salt) for v in votes])
        for vote in votes:
            self.s.state.set_vote_status(vote, VoteStatus.REVEALED)
            self.s.metrics.votes_revealed.inc()
        self.s.metrics.tx_sent.labels("revealVotes").inc()
        log.info(
            "revealed",
            extra={
                "task": first.task_id,
                "round": first.round,
                "units": [v.unit for v in votes],
                "valid": [v.valid for v in votes],
                "tx": sent.tx_hash,
            },
        )
