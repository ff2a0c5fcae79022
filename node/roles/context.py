"""What every role needs: the clients (market, store, state, metrics), the chain's clock, the source of task material
and the stake policy built on them, and the cycle's pinned reads."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from node.chain.confirmations import Confirmations
from node.chain.types import BlockHead, Task, TaskStatus, UnitInfo
from node.config import NodeSettings
from node.metrics import NodeMetrics
from node.ml.device import Hardware, hardware
from node.protocol.chain import Market
from node.roles.materials import Materials
from node.roles.stake import StakePolicy
from node.state import NodeState
from node.store.client import StoreClient

log = logging.getLogger(__name__)

# Blocks after which a task read done (completed, or cancelled with nothing in flight) is no longer read: deeper
# than any reorganisation a node follows, so a completion undone by one is still seen.
SETTLED_DEPTH = 64


class ChainClock:
    """The chain's notion of now, which is what deadlines are measured in.

    It is not the wall clock: a block's timestamp can trail it (a slow chain, an idle devnet whose next block is
    not mined yet) or be shifted from it (a devnet reverted to a snapshot, or fast-forwarded). Each time a new
    block is seen, the offset between its timestamp and the wall clock is kept; now = wall clock + offset.
    """

    def __init__(self) -> None:
        self._offset = 0.0
        self._block = -1

    def observe(self, block_number: int, block_timestamp: int) -> None:
        if block_number != self._block:
            self._block = block_number
            self._offset = block_timestamp - time.time()

    def now(self) -> float:
        return time.time() + self._offset


@dataclass(frozen=True, slots=True)
class CycleView:
    """What one cycle acts on: the block every role reads the chain at (pinned: the cycle's scans agree with each
    other), that block's chain time, and when the cycle's time budget ends (monotonic seconds). A role asks
    :meth:`over_budget` before each job it would start; what it leaves waits for the next cycle."""

    block: int
    timestamp: int
    budget_ends: float = math.inf
    clock: Callable[[], float] = time.monotonic

    def over_budget(self) -> bool:
        return self.clock() >= self.budget_ends


@dataclass
class Services:
    settings: NodeSettings
    market: Market
    store: StoreClient
    state: NodeState
    metrics: NodeMetrics
    # Tasks this miner does not claim on (its own rejected result fails its own check too), with why.
    claims_paused: dict[int, str] = field(default_factory=dict)
    # The one source of tasks' material and rounds' input models, and how much to stake: built from the clients.
    materials: Materials = field(init=False)
    staking: StakePolicy = field(init=False)
    hardware: Hardware = field(init=False)  # what this node trains and re-executes on (--threads, --device)
    clock: ChainClock = field(default_factory=ChainClock)
    # How final the block a cycle acts on is (--confirmations, resolved against the chain at start).
    confirmations: Confirmations = field(default_factory=Confirmations)
    view_lag_s: int = 0  # chain seconds between the last cycle's view and the head (0 at --confirmations 0)
    # One cycle's view of the chain, read at the block the cycle started from and shared by every role: scans
    # of a round's units cost one read per unit per cycle instead of one per role. Decisions taken from it are
    # re-checked by the transaction's simulation (a unit taken meanwhile is a lost race, never a failure).
    _cycle_block: int | None = None
    _cycle_tasks: list[Task] | None = None
    _cycle_units: dict[tuple[int, int], list[UnitInfo]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.materials = Materials(self.market, self.fetch)
        self.staking = StakePolicy(self.market, self.metrics, cap_wei=self.settings.stake_cap_wei)
        self.hardware = hardware(self.settings.threads, self.settings.device)

    def begin_cycle(
        self, block_number: int, timestamp: int, *, budget_s: float = math.inf, head: BlockHead | None = None
    ) -> CycleView:
        """Pins the chain reads of a cycle to ``block_number`` and returns the cycle's view. The chain's clock
        follows ``head`` when given (a view under the head, with --confirmations), else that block."""
        if head is None:
            self.clock.observe(block_number, timestamp)
        else:
            self.clock.observe(head.number, head.timestamp)
            self.view_lag_s = max(0, head.timestamp - timestamp)
        self._cycle_block = block_number
        self._cycle_tasks = None
        self._cycle_units = {}
        return CycleView(block_number, timestamp, time.monotonic() + budget_s)

    def cycle_at_head(self, *, budget_s: float = math.inf) -> CycleView:
        """A cycle at the chain's latest block (what the node's loop does at each cycle; tests drive roles so)."""
        head = self.market.latest()
        return self.begin_cycle(head.number, head.timestamp, budget_s=budget_s)

    @property
    def address(self) -> str:
        return self.market.signer.address

    def fetch(self, cid: str) -> bytes:
        return self.store.get(cid)

    def round_units(self, task: Task) -> list[UnitInfo]:
        """Every unit of the task's current round, the aggregation unit last, as of this cycle's block."""
        r = task.state.current_round
        key = (task.task_id, r)
        if key not in self._cycle_units:
            block: int | str = "latest" if self._cycle_block is None else self._cycle_block
            units = self.market.get_units(task.task_id, r, block=block)
            if self._cycle_block is None:
                return units
            self._cycle_units[key] = units
        return self._cycle_units[key]

    def live_tasks(self) -> list[Task]:
        """Tasks this node should look at: active ones, and cancelled ones with units still in flight."""
        if self._cycle_tasks is not None:
            return self._cycle_tasks
        out = []
        wanted = self.settings.tasks
        block: int | str = "latest" if self._cycle_block is None else self._cycle_block
        # A task done SETTLED_DEPTH blocks back (read so, or its TaskCompleted event) is not read again: before,
        # every cycle read every task the node ever saw, and an idle node's requests per block grew with the
        # chain's history (bench_scale).
        done = self.state.tasks_done()
        horizon = -1 if self._cycle_block is None else self._cycle_block - SETTLED_DEPTH
        settled = {t for t, b in done.items() if b <= horizon}
        for task_id in self.state.tasks():
            if (wanted is not None and task_id not in wanted) or task_id in settled:
                continue
            task = self.market.get_task(task_id, block=block)
            if task.state.status is TaskStatus.ACTIVE or (
                task.state.status is TaskStatus.CANCELLED and task.state.in_flight > 0
            ):
                out.append(task)
                if task_id in done:  # a completion that a reorganisation undid
                    self.state.unmark_task_done(task_id)
            elif task_id not in done and self._cycle_block is not None:
                self.state.mark_task_done(task_id, self._cycle_block)
        if self._cycle_block is not None:
            self._cycle_tasks = out
        return out
