"""The node loop: one synchronous cycle at a time, from a saved event cursor, until asked to stop.

Each cycle reads new events (idempotently: the cursor is saved after they are handled), lets every role act,
and withdraws credit above the threshold. A failing cycle is logged and retried with backoff: this boundary is
the only place a broad ``except`` is allowed. The stop event (set by SIGINT/SIGTERM in ``dml node run``) lets
the current step finish and the loop return. A chain that stops answering is waited for, for a bounded time; a
chain replaced by another one ends the loop (the runner starts again against the new chain).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from node.chain.events import ChainEvent
from node.chain.rpc import UNREACHABLE
from node.chain.types import BlockHead
from node.errors import ChainReplaced, ChainUnreachable, DmlnetError
from node.retry import RetryPolicy
from node.roles.context import SETTLED_DEPTH, CycleView, Services
from node.store.cid import to_cid

# How far back a node reads events again when the block under its cursor was replaced: as deep as a task's
# completion is still followed.
REREAD_BLOCKS = SETTLED_DEPTH
# Wall seconds a head may stand still, with the view under it, before the node says what it waits for.
STILL_HEAD_WARN_S = 30.0

log = logging.getLogger(__name__)


class Role(Protocol):
    name: str

    def tick(self, view: CycleView) -> None: ...


@dataclass
class NodeStatus:
    roles: list[str]
    address: str
    last_block: int = 0  # the head at the last cycle
    view_block: int = 0  # the block the roles acted on at the last cycle (under the head with --confirmations)
    cycles: int = 0
    last_error: str | None = None
    started_at: float = 0.0
    last_cycle_at: float = 0.0  # wall time the last cycle completed (0: none yet): the pulse /health reads
    last_cycle_s: float = 0.0  # how long the last complete pass over the roles took
    cycles_cut: int = 0  # cycles whose time budget ran out before every role was reached


def tick_roles(roles: Sequence[Role], view: CycleView, stop: threading.Event) -> list[Role]:
    """Ticks each role in turn on ``view``, the first one whatever the budget, the others while it lasts (and
    until ``stop``); returns the roles not reached."""
    for k, role in enumerate(roles):
        if stop.is_set() or (k > 0 and view.over_budget()):
            return list(roles[k:])
        role.tick(view)
    return []


class Daemon:
    def __init__(
        self,
        services: Services,
        roles: Sequence[Role],
        *,
        start_block: int,
        stop: threading.Event | None = None,
        max_backoff_s: float = 10.0,
        idle_recheck_s: float = 2.0,
        chain_identity: Callable[[], str] | None = None,
        moved: Callable[[], str | None] | None = None,
    ) -> None:
        self.s = services
        self.roles = list(roles)
        self.stop = stop or threading.Event()
        self.start_block = start_block
        # After a failed cycle the next one waits per the one retry policy (backoff with jitter, up to a bound).
        self._backoff = RetryPolicy(attempts=None, base_delay_s=0.25, max_delay_s=max_backoff_s)
        self._rng = random.Random()
        # With no new block since the last complete pass, nothing on chain changed: the roles are asked again
        # only every idle_recheck_s (for deadlines that pass with time alone, and work to retry). A polling
        # node then costs one request per cycle instead of a scan of every unit.
        self.idle_recheck_s = idle_recheck_s
        # What the node's state is bound to, read again after an outage and when the head goes backwards: a chain
        # restarted under a running node is noticed instead of mixed with the state of the old one.
        self._chain_identity = chain_identity
        self._identity = chain_identity() if chain_identity is not None else None
        # Where the chain is now, when the node's endpoint can move (the devnet's, restarted on other ports):
        # asked during an outage, so that the node follows instead of waiting on the old address.
        self._moved = moved
        self._seen_head = -1
        # Events handled in the last REREAD_BLOCKS, by (transaction, log index) → block: a reorganisation's
        # re-read skips those it handled already (in memory: after a restart a re-read handles them again, which
        # the state's writes allow: each is idempotent).
        self._handled: dict[tuple[str, int], int] = {}
        self._head_seen: tuple[bytes, float, bool] = (b"", 0.0, False)  # the head, since when, whether said still
        self._passed_head: bytes | None = None  # the hash of the head of the last complete pass
        self._next_idle_pass = 0.0
        # The roles as configured (an aggregator is the miner role aggregating: said as "aggregator" all the same).
        self.status = NodeStatus(roles=list(services.settings.roles), address=services.address, started_at=time.time())
        self.reader = services.market.events()

    def run(self) -> None:
        """Cycles until asked to stop. Raises :class:`ChainUnreachable` when the chain has not answered for
        ``chain_wait_s``, and :class:`ChainReplaced` when another chain answers in its place."""
        failures = 0
        outage_since: float | None = None
        log.info(
            "node started",
            extra={
                "roles": self.status.roles,
                "address": self.s.address,
                "hardware": self.s.hardware.describe(),
                "acts_on": self.s.confirmations.describe(),
            },
        )
        while not self.stop.is_set():
            try:
                if failures:
                    self._check_same_chain()
                self.cycle()
            except ChainReplaced:
                raise
            except UNREACHABLE as err:  # the chain does not answer: wait for it, for a bounded time
                failures += 1
                self._failed(err)
                if self._moved is not None and (where := self._moved()) is not None:
                    raise ChainReplaced(f"the chain moved to {where}") from err
                now = time.monotonic()
                if outage_since is None:
                    outage_since = now
                    log.warning(
                        "cannot reach the chain: retrying",
                        extra={"rpc": self.s.settings.rpc_url, "for_up_to_s": self.s.settings.chain_wait_s,
                               "error": self.status.last_error},
                    )  # fmt: skip
                elif now - outage_since > self.s.settings.chain_wait_s:
                    raise ChainUnreachable(
                        self.s.settings.rpc_url, f"no answer for {now - outage_since:.0f}s while running"
                    ) from err
            except Exception as err:  # the cycle boundary: log, back off, try again
                failures += 1
                previous = self.status.last_error
                self._failed(err)
                if self.status.last_error != previous:  # one line per change, not one per retry
                    log.warning(
                        "cycle failed: retrying with backoff",
                        extra={"error": self.status.last_error, "failures": failures},
                        exc_info=not isinstance(err, DmlnetError),
                    )
            else:
                if failures:
                    log.info("cycles succeed again", extra={"after_failures": failures})
                failures, outage_since = 0, None
                self.status.last_error = None
            pause = self.s.settings.poll_interval_s if failures == 0 else self._backoff.delay(failures, self._rng)
            self.stop.wait(pause)
        log.info("node stopped", extra={"cycles": self.status.cycles})

    def _failed(self, err: Exception) -> None:
        self.s.metrics.cycle_errors.inc()
        self.status.last_error = f"{type(err).__name__}: {err}"

    def _check_same_chain(self) -> None:
        if self._chain_identity is None:
            return
        now = self._chain_identity()
        if now != self._identity:
            raise ChainReplaced(
                f"the chain at {self.s.settings.rpc_url} is another one now ({now}, was {self._identity})"
            )

    def cycle(self) -> None:
        latest = self.s.market.latest()
        head = latest.number
        if head < self._seen_head:  # a chain does not shrink: this one was replaced (or reorganised deeply)
            self._check_same_chain()
        self._seen_head = head
        if latest.hash == self._passed_head and time.monotonic() < self._next_idle_pass:
            self.status.cycles += 1
            self.status.last_cycle_at = time.time()
            return
        began = time.monotonic()
        # The roles act on the view (--confirmations: the head on a devnet, a block deep enough elsewhere); the
        # node's own transactions are followed at the head. A transaction the chain forgot (a reorganisation) goes
        # out again before anything waits on it; all of them are checked at once when the block under the event
        # cursor was replaced.
        at = self._view_of(latest)
        self._say_if_the_view_waits(latest, at)
        start = self._events_from(latest, at)
        cursor = self.s.state.cursor
        redone = self.s.market.signer.reconcile(
            head, stuck_after_s=self.s.settings.receipt_timeout_s, force=cursor is not None and start <= cursor
        )
        if redone:  # the roles read the chain with what went out again, not before it: nothing is done twice
            latest = self.s.market.latest()
            head = latest.number
            at = self._view_of(latest)
        # The chain's clock follows the head from here (an idle pass is on a block it has already seen).
        view = self.s.begin_cycle(at.number, at.timestamp, budget_s=self.s.settings.cycle_budget_s, head=latest)
        self.read_events(at, start)
        self.s.metrics.last_block.set(head)
        self.s.metrics.view_block.set(at.number)
        left = tick_roles(self.roles, view, self.stop)
        if self.stop.is_set():
            return
        if left:
            self.status.cycles_cut += 1
            log.warning(
                "cycle over its time budget: the rest waits for the next cycle",
                extra={"budget_s": self.s.settings.cycle_budget_s, "roles_left": [r.name for r in left]},
            )
            # The roles not reached go first next time: a role late in the list is never starved.
            self.roles = [*left, *(r for r in self.roles if r not in left)]
        self._withdraw_if_due()
        self.s.metrics.store_failovers.set(self.s.store.stats.failovers)
        self.status.cycles += 1
        self.status.last_block = head
        self.status.view_block = at.number
        self.status.last_cycle_at = time.time()
        self.status.last_cycle_s = time.monotonic() - began
        if self.status.last_cycle_s > self.s.settings.cycle_budget_s:
            log.warning(
                "cycle overran its time budget (a job once started is not cut)",
                extra={"seconds": round(self.status.last_cycle_s, 1), "budget_s": self.s.settings.cycle_budget_s},
            )
        self._passed_head = None if left else latest.hash  # a cut cycle's rest goes on at once, new block or not
        self._next_idle_pass = time.monotonic() + self.idle_recheck_s

    def _say_if_the_view_waits(self, latest: BlockHead, view: BlockHead) -> None:
        """A view under a head that does not move never moves either (a chain that mines only on traffic, an
        instamine devnet): said once per still head, at warning level, with the blocks it waits for."""
        now = time.monotonic()
        if latest.hash != self._head_seen[0]:
            self._head_seen = (latest.hash, now, False)
            return
        _, since, said = self._head_seen
        if said or view.number >= latest.number or now - since < STILL_HEAD_WARN_S:
            return
        self._head_seen = (latest.hash, since, True)
        log.warning(
            "the chain mines no block: the node acts on blocks deep enough and waits for the chain to mine on "
            "(a devnet that mines only on traffic needs --confirmations 0)",
            extra={"view": view.number, "head": latest.number, "still_for_s": round(now - since),
                   "acts_on": self.s.confirmations.describe()},
        )  # fmt: skip

    def _view_of(self, latest: BlockHead) -> BlockHead:
        """The block the roles act on this cycle: the head, or one deep enough (--confirmations)."""
        return self.s.confirmations.view(self.s.market.block, latest)

    def read_events(self, view: BlockHead, start: int | None = None) -> None:
        """Handles the events of the blocks from ``start`` (by default the first not read yet) up to ``view``, and
        moves the cursor there."""
        head = view.number
        start = self._events_from(view, view) if start is None else start
        if start > head:
            return  # the cursor is at or above the view already (confirmations raised since it was written)
        for event in self.reader.iter(start, head):
            key = (event.tx_hash, event.log_index)
            if key in self._handled:
                continue  # handled before the reorganisation (its transaction mined again, maybe elsewhere)
            self._handled[key] = event.block_number
            self._on_event(event)
        self.s.state.set_cursor(head, view.hash)
        self._handled = {k: b for k, b in self._handled.items() if b > head - REREAD_BLOCKS}

    def _events_from(self, latest: BlockHead, view: BlockHead) -> int:
        """The first block whose events are still to read: the one after the cursor, unless the chain's block at
        the cursor is no longer the one read there (a reorganisation replaced it, at the same height too, or the
        chain is shorter now). Then the last REREAD_BLOCKS under the view are read again: an event whose
        transaction the new branch mined at or below the cursor is not missed, and one read before (same
        transaction, same log) is not handled twice. One request at most, and none when the head or the view is
        the cursor's block."""
        cursor, kept = self.s.state.cursor, self.s.state.cursor_hash
        if cursor is None:
            return self.start_block
        if kept is None:  # a state written before the cursor's hash was kept
            return cursor + 1
        if cursor == latest.number:
            same = latest.hash == kept
        elif cursor == view.number:
            same = view.hash == kept
        else:
            same = cursor < latest.number and self.s.market.block_hash(cursor) == kept
        if same:
            return cursor + 1
        back = max(self.start_block, min(cursor, view.number) - REREAD_BLOCKS)
        self.s.metrics.reorgs_seen.inc()
        log.warning(
            "the chain under the event cursor changed (a reorganisation): reading its events again",
            extra={"cursor": cursor, "from_block": back, "head": latest.number, "view": view.number},
        )
        return back

    def _on_event(self, event: ChainEvent) -> None:
        me = self.s.address
        args = event.args
        if event.name == "TaskCreated":
            self.s.state.add_task(int(args["taskId"]), event.block_number)
            log.info("task discovered", extra={"task": int(args["taskId"]), "budget_wei": int(args["budget"])})
        elif event.name == "TaskCompleted":
            # A node catching up on history skips a task completed long ago at once (ServiceContext.live_tasks).
            self.s.state.mark_task_done(int(args["taskId"]), event.block_number)
        elif event.name == "UnitAccepted" and args.get("miner") == me:
            self.s.metrics.units_accepted.inc()
            log.info(
                "own result accepted",
                extra={"task": int(args["taskId"]), "round": args["round"], "unit": args["index"]},
            )
        elif event.name == "UnitRejected" and args.get("miner") == me:
            self.s.metrics.units_rejected.inc()
            # The miner re-checks it before claiming on this task again (node.roles.own_results).
            self.s.state.mark_rejected(
                int(args["taskId"]), int(args["round"]), int(args["index"]), to_cid(bytes(args["resultDigest"]))
            )
            log.warning(
                "own result rejected",
                extra={"task": int(args["taskId"]), "round": args["round"], "unit": args["index"]},
            )
        elif event.name == "Credited" and args.get("account") == me:
            self.s.metrics.earned_wei.inc(int(args["amount"]))
        elif event.name == "StakeSlashed" and args.get("account") == me:
            self.s.metrics.slashed_wei.inc(int(args["amount"]))
            log.warning(
                "slashed", extra={"task": int(args["taskId"]), "unit": args["index"], "amount_wei": int(args["amount"])}
            )

    def _withdraw_if_due(self) -> None:
        credit = self.s.market.credit_of(self.s.address)
        if credit >= max(1, self.s.settings.withdraw_threshold_wei):
            sent = self.s.market.withdraw()
            self.s.metrics.withdrawn_wei.inc(credit)
            self.s.metrics.tx_sent.labels("withdraw").inc()
            log.info("withdrew", extra={"amount_wei": credit, "tx": sent.tx_hash})
