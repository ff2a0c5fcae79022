"""The verifier: stays in the stake-weighted verifier pool, draws the quorums of submitted units once their seed
block is mined, re-executes only the units it was drawn for (with its challenge seed), stores each vote (salt on
disk first) and commits the votes it stored in one transaction per task round at the end of its cycle (earlier,
when one more re-execution would outlast a stored vote's commit deadline), and reveals once the reveal phase
opens. As a watcher it re-checks, within a budget, verdicts it did
not vote on while they are open to challenge, and appeals those it finds wrong.

A verdict the verifier cannot reach (bytes unavailable) is retried on the next cycle, never voted blindly.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Sequence

from node.chain.hashing import challenge_seed, new_salt
from node.chain.types import MAX_APPEAL_LEVEL, Task, UnitInfo, UnitStatus, seats_at
from node.errors import ContractRevert
from node.ml.material import TaskMaterial
from node.ml.verify import Outcome, Verdict
from node.protocol.judge import Judge, judge
from node.protocol.sender import send_batch_then_singles
from node.protocol.timing import JobTimer
from node.protocol.unit import unit_ref
from node.roles.ballots import Ballots
from node.roles.capacity import Capacity
from node.roles.context import CycleView, Services
from node.state import Vote, VoteStatus
from node.store.cid import to_cid

log = logging.getLogger(__name__)

# Vote bonds a verifier's stake covers per task beyond its own claims and challenges. A draw seats an account while
# that covers one vote bond, and a seat locks its bond whether or not stake is free (nobody can bond a verifier out
# of a draw); a few more keep every seat it holds at once fully backed.
BONDS_AHEAD = 8
# Cycles a verifier retries a result whose bytes cannot be fetched before it judges the result invalid.
UNAVAILABLE_TRIES = 3
# Ticks' worth of chain time before a deadline at which unavailable bytes are judged at once: the next look may
# come after it (a tick takes as long as its slowest re-execution).
LAST_CHANCE_TICKS = 2


def _name(err: Exception) -> str:
    return err.error_name if isinstance(err, ContractRevert) else type(err).__name__


# Refusals of one draw for its seed block (TaskMarketSeedNotReady) before it is said at warning level.
SEED_WAIT_WARN_AFTER = 5


def judge_unavailable(verdict: Verdict, *, tries: int, seconds_left: float, tick_step_s: float) -> Verdict:
    """An unavailable result after ``tries`` cycles, ``seconds_left`` of chain time before its window closes, when
    the chain moves ``tick_step_s`` between two looks: still unavailable (look again) or, at last, invalid."""
    if tries < UNAVAILABLE_TRIES and seconds_left > LAST_CHANCE_TICKS * tick_step_s:
        return verdict
    return Verdict(Outcome.INVALID, f"result unavailable after {tries} tries: {verdict.reason}")


class VerifierRole:
    name = "verifier"

    def __init__(
        self, services: Services, *, judge: Judge = judge, watch: bool = True, ballots: Ballots | None = None
    ) -> None:
        self.s = services
        self.ballots = ballots or Ballots(services)  # commits and reveals what this verifier stored
        self._judge = judge  # the one judge (a test adversary's votes without it)
        self._watch_budget = services.settings.watch_budget if watch else 0
        # Per (task, round, unit, epoch), in memory only (a restart merely logs or re-checks once more): quorums we
        # said we stayed out of, verdicts we re-checked, fetches of a result that failed.
        self._stayed_out: set[tuple[int, int, int, int]] = set()
        self._watched: set[tuple[int, int, int, int]] = set()
        self._unavailable: Counter[tuple[int, int, int, int]] = Counter()
        # Per (task, round, unit, seed block): draws refused because the chain has not mined past the seed block.
        self._seed_waits: Counter[tuple[int, int, int, int]] = Counter()
        # Chain time at the last tick and between the last two: how far the chain moves before we look again.
        self._last_tick_at: float | None = None
        self._tick_step_s = services.settings.poll_interval_s
        self._verdicts = JobTimer()  # the longest re-execution so far: what a stored vote may wait for
        self._capacity = Capacity(services)  # whether this hardware judges a task's unit within its commit window

    def tick(self, view: CycleView) -> None:
        """Follows up its votes, then draws, votes and watches on the round's units as of ``view``; a re-execution
        not started before the cycle's budget ran out waits for the next cycle. The stored votes are committed
        at the end whatever the budget (their salts are on disk)."""
        now = self.s.clock.now()
        if self._last_tick_at is not None and now > self._last_tick_at:
            self._tick_step_s = now - self._last_tick_at
        self._last_tick_at = now
        self.ballots.follow_up_all(self.s.state.open_votes())
        watch_budget = self._watch_budget
        tasks = self.s.live_tasks()
        self._forget_all_but({t.task_id for t in tasks})
        for task in tasks:
            material = self.s.materials.of(task)
            if material is None:
                continue
            if not self._capacity.can_judge(task, material):  # declined: too slow for its commit window
                continue
            if not self._ensure_in_pool(task):
                continue
            r = task.state.current_round
            units = self.s.round_units(task)
            drawn = self._draw_due(task, units, r)
            # Start at an offset from the address: verifiers spread over the units instead of all drawing the
            # same quorum or re-executing the same unit first.
            offset = int(hashlib.sha256(self.s.address.lower().encode()).hexdigest(), 16) % len(units)
            for index in [(offset + k) % len(units) for k in range(len(units))]:
                if view.over_budget():
                    break
                unit = units[index]
                if index in drawn:
                    unit = self.s.market.get_unit(task.task_id, r, index)
                if self._should_vote(task, unit, r, index):
                    # The cycle's snapshot may be stale by now (our own votes, other verifiers'): re-check first.
                    fresh = self.s.market.get_unit(task.task_id, r, index)
                    if self._should_vote(task, fresh, r, index):
                        self._vote(task, fresh, r, index, material)
                elif watch_budget > 0 and self._should_watch(task, unit, r, index):
                    watch_budget -= 1
                    self._watch(task, unit, r, index, material)
        self.ballots.commit_stored()

    # ---------------------------------------------------------------------------------------------- pool and draws

    def _ensure_in_pool(self, task: Task) -> bool:
        """Keeps stake for a few vote bonds of this task and the account in the verifier pool (read from the
        chain every time: a chain restarted under a running node has forgotten both)."""
        # At the stake cap: what there is.
        self.s.staking.ensure_free(task.params.vote_bond * BONDS_AHEAD, "vote bonds", for_seats=True)
        stake = self.s.market.stake_of(self.s.address)
        if stake.verifying:
            return True
        if stake.total == stake.unbonding:
            return False  # nothing to join with
        sent = self.s.market.join_verifier_pool()
        self.s.metrics.tx_sent.labels("joinVerifierPool").inc()
        log.info("joined the verifier pool", extra={"tx": sent.tx_hash})
        return True

    def _forget_all_but(self, live: set[int]) -> None:
        """Drops the memos of tasks no longer live, so a long-running node's memory stays bounded."""
        self._stayed_out = {k for k in self._stayed_out if k[0] in live}
        self._watched = {k for k in self._watched if k[0] in live}
        self._unavailable = Counter({k: n for k, n in self._unavailable.items() if k[0] in live})
        self._seed_waits = Counter({k: n for k, n in self._seed_waits.items() if k[0] in live})

    def _draw_due(self, task: Task, units: list[UnitInfo], round_: int) -> set[int]:
        """Draws the quorums of the round's submitted units whose seats are not all drawn; returns those units."""
        due = [
            i
            for i, u in enumerate(units)
            if u.status is UnitStatus.SUBMITTED and u.seats < seats_at(task.params.quorum, u.level)
        ]
        if due:
            self._draw(task, round_, due)
        return set(due)

    def _draw(self, task: Task, round_: int, indices: list[int]) -> None:
        """Draws the units' quorums in one transaction (anyone may; the seats do not depend on who). A batch is
        refused whole when one of its units is not drawable (drawn by someone else meanwhile, its seed block not
        mined yet): then each unit is tried alone."""

        def draw(batch: Sequence[int]) -> None:
            sent = self.s.market.draw_quorums(task.task_id, round_, batch)
            self.s.metrics.quorum_draws.inc(len(batch))
            self.s.metrics.tx_sent.labels("drawVerifiers").inc()
            log.info(
                "drew quorums", extra={"task": task.task_id, "round": round_, "units": list(batch), "tx": sent.tx_hash}
            )

        def not_needed(index: int, err: Exception) -> None:
            if isinstance(err, ContractRevert) and err.error_name == "TaskMarketSeedNotReady":
                self._seed_not_ready(task.task_id, round_, index, err)
                return
            log.debug("draw not needed", extra={"task": task.task_id, "unit": index, "error": _name(err)})

        send_batch_then_singles(indices, draw, refused=(ContractRevert,), item_refused=not_needed)

    def _seed_not_ready(self, task_id: int, round_: int, index: int, err: ContractRevert) -> None:
        """A draw waits for a block after its seed block: for a block or two, normal. When the chain keeps
        answering so, say once at warning level which blocks it waits for: a chain that mines no block without
        traffic (an instamine devnet), or one whose `pending` is its latest block (Ganache), stalls here."""
        seed_block, seen = int(err.values["seedBlock"]), int(err.values["blockNumber"])  # type: ignore[call-overload]
        key = (task_id, round_, index, seed_block)
        self._seed_waits[key] += 1
        extra = {"task": task_id, "round": round_, "unit": index, "seed_block": seed_block, "simulated_at": seen}
        if self._seed_waits[key] == SEED_WAIT_WARN_AFTER:
            log.warning(
                "a draw keeps waiting for a block after its seed block: is the chain mining?",
                extra={**extra, "waits_for_block": seed_block + 1, "refusals": SEED_WAIT_WARN_AFTER},
            )
        else:
            log.debug("draw waits for its seed block", extra=extra)

    # ---------------------------------------------------------------------------------------------- votes

    def _should_vote(self, task: Task, unit: UnitInfo, round_: int, index: int) -> bool:
        """Only what this verifier was drawn for: seats are drawn, and re-executing anything else is wasted."""
        if unit.status is not UnitStatus.SUBMITTED or unit.miner == self.s.address or unit.seats == 0:
            return False
        if unit.deadline < self.s.clock.now():
            return False
        ballot = self.s.market.get_ballot(task.task_id, round_, index, self.s.address)
        key = (task.task_id, round_, index, unit.epoch)
        if ballot.seats == 0:
            if unit.seats >= seats_at(task.params.quorum, unit.level) and key not in self._stayed_out:
                self._stayed_out.add(key)
                self.s.metrics.stayed_out.labels(str(unit.level)).inc()
                log.info(
                    "not drawn: staying out",
                    extra={"task": task.task_id, "round": round_, "unit": index, "level": unit.level},
                )
            return False
        if ballot.committed:
            return False
        # A vote already stored is committed (again, for a new seat) by the follow-up; one abandoned when our seat
        # was released goes through _vote once more, which reuses its salt; one for another result under this epoch
        # number (a reorganisation replaced the submission) is judged afresh, with a new salt.
        stored = self.s.state.get_vote(*key)
        return stored is None or stored.status is VoteStatus.ABANDONED or not stored.judged(unit.result_digest)

    def _vote(self, task: Task, unit: UnitInfo, round_: int, index: int, material: TaskMaterial) -> None:
        """Re-executes the unit and stores the vote; the commitment goes out with the cycle's others."""
        started = time.process_time()
        timed = self._timed_verdict(task, unit, round_, index, material)
        if timed is None:
            return
        verdict = self._unavailable_is_invalid_at_last((task.task_id, round_, index, unit.epoch), unit.deadline, timed)
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
        self.s.metrics.seats.inc()
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
                unit.result_digest,
            )
        )
        log.debug("vote stored", extra={"task": vote.task_id, "round": vote.round, "unit": vote.unit})

    def _timed_verdict(
        self, task: Task, unit: UnitInfo, round_: int, index: int, material: TaskMaterial
    ) -> Verdict | None:
        """The verdict, after the stored votes whose commit deadline it would outlast are committed; None when the
        unit's shard (the owner's data) cannot be had now: not the miner's fault, so no verdict rather than "invalid"
        (a seat left uncommitted is released unslashed)."""
        if not self.s.materials.shards_at_hand(task, material, [index]):
            return None
        if self._verdict_would_outlast_stored():
            self.ballots.commit_stored()
        began = time.monotonic()
        verdict = self._verdict(task, unit, round_, index, material)
        self._verdicts.record(time.monotonic() - began)
        return verdict

    def _verdict_would_outlast_stored(self) -> bool:
        """Whether one more re-execution (as long as the longest so far, with the miner's margin) would end past the
        commit deadline of a vote stored and not committed yet."""
        stored = [v for v in self.s.state.open_votes() if v.status is VoteStatus.STORED]
        if not stored:
            return False
        deadlines = (self.s.market.get_unit(v.task_id, v.round, v.unit).deadline for v in stored)
        return self._verdicts.would_outlast(deadlines, now=self.s.clock.now())

    # ---------------------------------------------------------------------------------------------- watching

    def _should_watch(self, task: Task, unit: UnitInfo, round_: int, index: int) -> bool:
        """A verdict open to challenge, on a result that is not ours, that we have not re-checked yet."""
        if unit.status is not UnitStatus.DECIDED or unit.level >= MAX_APPEAL_LEVEL:
            return False
        if unit.miner == self.s.address or unit.deadline <= self.s.clock.now() + 1:
            return False
        key = (task.task_id, round_, index, unit.epoch)
        if key in self._watched:
            return False
        return self.s.state.get_vote(*key) is None  # we voted in this epoch: our vote already counted

    def _watch(self, task: Task, unit: UnitInfo, round_: int, index: int, material: TaskMaterial) -> None:
        key = (task.task_id, round_, index, unit.epoch)
        self._watched.add(key)
        timed = self._timed_verdict(task, unit, round_, index, material)
        if timed is None:
            self._watched.discard(key)  # try again next cycle
            return
        verdict = self._unavailable_is_invalid_at_last(key, unit.deadline, timed)
        if verdict.outcome is Outcome.UNAVAILABLE:
            self._watched.discard(key)  # try again next cycle
            return
        agreed = verdict.valid == unit.verdict
        self.s.metrics.watched.labels("yes" if agreed else "no").inc()
        context = {
            "task": task.task_id, "round": round_, "unit": index, "level": unit.level,
            "verdict": unit.verdict, "ours": verdict.valid, "reason": verdict.reason,
        }  # fmt: skip
        if agreed:
            log.info("watched a verdict: agree", extra=context)
            return
        bond = seats_at(task.params.quorum, unit.level + 1) * task.params.verifier_reward
        if not self.s.staking.ensure_free(bond, "challenge"):
            log.warning("wrong verdict left unchallenged: no stake for the bond", extra=context)
            return
        try:
            sent = self.s.market.challenge_verdict(task.task_id, round_, index)
        except ContractRevert as err:
            log.info("challenge no longer possible", extra={**context, "error": err.error_name})
            return
        self.s.metrics.challenges.inc()
        self.s.metrics.tx_sent.labels("challengeVerdict").inc()
        log.warning("challenged a wrong verdict", extra={**context, "bond_wei": bond, "tx": sent.tx_hash})

    # ---------------------------------------------------------------------------------------------- verdicts

    def _unavailable_is_invalid_at_last(
        self, key: tuple[int, int, int, int], deadline: int, verdict: Verdict
    ) -> Verdict:
        """Bytes that cannot be fetched are retried on the next cycles (the store client already retried each read),
        but not forever: still unavailable after UNAVAILABLE_TRIES cycles, or when the window (to commit, or to
        challenge) would close before the next cycle looks again, the result is invalid. A miner publishes before
        it submits, so a verifier drawn after the submission finds the bytes; verifiers that only abstained would be
        replaced, window after window, until colluding seats (which vote blind) held them all; and a watcher that
        waited out the challenge window would leave the colluders' verdict final."""
        if verdict.outcome is not Outcome.UNAVAILABLE:
            return verdict
        self._unavailable[key] += 1
        return judge_unavailable(
            verdict,
            tries=self._unavailable[key],
            seconds_left=deadline - self.s.clock.now(),
            tick_step_s=self._tick_step_s,
        )

    def _verdict(self, task: Task, unit: UnitInfo, round_: int, index: int, material: TaskMaterial) -> Verdict:
        """This verifier's verdict on the unit as submitted: the segments its challenge seed draws (from the hash of
        the submission's block and its address), judged as every node judges a unit."""
        return self._judge(
            self.s.market,
            self.s.fetch,
            unit_ref(self.s.market, task, round_, index, unit.miner),
            result_cid=to_cid(unit.result_digest),
            model_cid=to_cid(unit.model_digest),
            material=material,
            challenge=challenge_seed(self.s.market.block_hash(unit.submitted_block), self.s.address),
            hardware=self.s.hardware,
        )
