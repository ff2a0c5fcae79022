"""The node's loop (node.daemon): the cycle's time budget (the first role always runs, the rest while the budget
lasts), the event cursor across reorganisations, the view a cycle acts on (--confirmations)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from node.daemon import tick_roles
from node.roles.context import CycleView


class _Role:
    def __init__(self, name: str) -> None:
        self.name = name
        self.views: list[CycleView] = []

    def tick(self, view: CycleView) -> None:
        self.views.append(view)


def test_tick_roles_ticks_every_role_on_the_same_view_within_budget() -> None:
    roles = [_Role("miner"), _Role("verifier")]
    view = CycleView(7, 1000, time.monotonic() + 60)
    assert tick_roles(roles, view, threading.Event()) == []
    assert [r.views for r in roles] == [[view], [view]], "one pinned view for every role"


def test_tick_roles_cuts_the_rest_once_the_budget_is_spent_but_runs_the_first() -> None:
    roles = [_Role("miner"), _Role("verifier"), _Role("keeper")]
    spent = CycleView(7, 1000, time.monotonic() - 1)  # the budget ran out before the roles' turn
    left = tick_roles(roles, spent, threading.Event())
    assert [r.name for r in left] == ["verifier", "keeper"]
    assert [len(r.views) for r in roles] == [1, 0, 0], "the first role always gets its turn: nobody starves"


def test_tick_roles_stops_when_asked() -> None:
    stop = threading.Event()
    stop.set()
    roles = [_Role("miner")]
    assert tick_roles(roles, CycleView(1, 1), stop) == roles
    assert roles[0].views == []


def test_a_task_completed_event_marks_the_task_done_at_its_block(tmp_path: Path) -> None:
    """A node catching up on history learns from TaskCompleted that an old task needs no more reads."""
    from node.chain.events import ChainEvent
    from node.daemon import Daemon
    from tests.unit.node.roles.harness import TASK, node

    services = node(tmp_path).services
    daemon = Daemon(services, [], start_block=0)
    daemon._on_event(ChainEvent("TaskCompleted", {"taskId": TASK, "finalModelDigest": b"\0" * 32}, 7, 0, "0x01"))
    assert services.state.tasks_done() == {TASK: 7}


def test_a_replaced_block_under_the_cursor_has_its_events_read_again_and_none_handled_twice(tmp_path: Path) -> None:
    """A reorganisation replaced the cursor's block and mined a task's creation below the cursor: the node reads
    the last blocks again and discovers it; an event it had handled (same transaction, same log) is not handled
    twice, and with the cursor's block unchanged nothing is read again."""  # (Daemon.cycle calls read_events)
    from node.chain.events import ChainEvent
    from node.daemon import Daemon
    from tests.unit.node.roles.harness import node

    n = node(tmp_path)
    market, state = n.market, n.services.state
    created = ChainEvent("TaskCreated", {"taskId": 7, "budget": 1}, 11, 0, "0xaa")
    market._events.events = [created]
    market.number = 12
    daemon = Daemon(n.services, [], start_block=0)
    handled: list[str] = []
    original = daemon._on_event
    daemon._on_event = lambda e: (handled.append(e.tx_hash), original(e))[1]  # type: ignore[method-assign]
    daemon.read_events(market.latest())
    assert (state.cursor, state.cursor_hash) == (12, market.block_hash(12))
    assert handled == ["0xaa"]

    # The same height, another block: 9 to 12 replaced; the new branch holds a creation at block 10 and the old
    # one's again at 11 (its transaction mined again).
    market.block_hash = lambda number: (b"\x01" if number >= 9 else b"\0") + number.to_bytes(31, "big")  # type: ignore[method-assign]
    market._events.events = [ChainEvent("TaskCreated", {"taskId": 8, "budget": 1}, 10, 0, "0xbb"), created]
    market.number = 13
    daemon.read_events(market.latest())
    assert handled == ["0xaa", "0xbb"], "the new event handled, the old one not again"
    assert 8 in state.tasks()
    assert (state.cursor, state.cursor_hash) == (13, market.block_hash(13))

    market.number = 14
    market._events.events.append(ChainEvent("TaskCreated", {"taskId": 9, "budget": 1}, 5, 0, "0xcc"))
    daemon.read_events(market.latest())  # the cursor's block is the one read: only block 14 is read
    assert handled == ["0xaa", "0xbb"]


def test_cycle_with_confirmations_acts_and_reads_events_under_the_head_and_its_clock_follows_the_head(
    tmp_path: Path,
) -> None:
    """--confirmations 3: the roles act on the block 3 under the head, events are read up to it and no further
    (one 2 blocks deep waits for a later cycle), while the chain's clock follows the head's timestamp."""
    from node.chain.confirmations import Confirmations
    from node.chain.events import ChainEvent
    from node.daemon import Daemon
    from tests.unit.node.roles.harness import node

    n = node(tmp_path)
    market = n.market
    services = n.services
    services.confirmations = Confirmations(depth=3)
    market._events.events = [
        ChainEvent("TaskCreated", {"taskId": 7, "budget": 1}, 16, 0, "0xaa"),
        ChainEvent("TaskCreated", {"taskId": 8, "budget": 1}, 18, 0, "0xbb"),
    ]
    market.number = 20
    role = _Role("verifier")
    daemon = Daemon(services, [role], start_block=0)
    daemon.cycle()
    assert [v.block for v in role.views] == [17]
    assert services.state.cursor == 17
    assert 7 in services.state.tasks()
    assert 8 not in services.state.tasks(), "block 18 is not 3 deep yet"
    assert abs(services.clock.now() - market.now) < 5, "the clock is the head's"
    assert (daemon.status.last_block, daemon.status.view_block) == (20, 17)

    market.number = 21
    market.now += 12
    daemon.cycle()
    assert [v.block for v in role.views] == [17, 18]
    assert 8 in services.state.tasks()
    assert services.metrics.reorgs_seen._value.get() == 0


def test_a_view_under_a_head_that_does_not_move_is_said_once_at_warning_level(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """--confirmations 3 on a chain that mines only on traffic: the view never moves; the node says so once."""
    from node.chain.confirmations import Confirmations
    from node.daemon import STILL_HEAD_WARN_S, Daemon
    from tests.unit.node.roles.harness import node

    n = node(tmp_path)
    n.services.confirmations = Confirmations(depth=3)
    n.market.number = 20
    daemon = Daemon(n.services, [_Role("miner")], start_block=0, idle_recheck_s=0)
    daemon.cycle()
    head, _, said = daemon._head_seen
    daemon._head_seen = (head, time.monotonic() - STILL_HEAD_WARN_S - 1, said)  # the head has stood still since
    with caplog.at_level("WARNING", logger="node.daemon"):
        daemon.cycle()
        daemon.cycle()
    said_lines = [r for r in caplog.records if r.getMessage().startswith("the chain mines no block")]
    assert len(said_lines) == 1
    assert (said_lines[0].view, said_lines[0].head) == (17, 20)  # type: ignore[attr-defined]
