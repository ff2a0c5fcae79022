from __future__ import annotations

from pathlib import Path

from node.chain.types import Task


def test_chain_clock_follows_the_chain_not_the_wall_clock() -> None:
    import time

    from node.roles.context import ChainClock

    clock = ChainClock()
    assert abs(clock.now() - time.time()) < 1
    clock.observe(10, int(time.time()) - 3600)  # a chain an hour behind (a reverted devnet)
    assert abs(clock.now() - (time.time() - 3600)) < 2
    clock.observe(10, int(time.time()))  # the same block seen again changes nothing
    assert clock.now() < time.time() - 3000
    clock.observe(11, int(time.time()) + 60)
    assert abs(clock.now() - (time.time() + 60)) < 2


def test_live_tasks_stops_reading_a_done_task_once_it_is_deeper_than_a_reorganisation(tmp_path: Path) -> None:
    from dataclasses import replace

    from node.chain.types import TaskStatus
    from node.roles.context import SETTLED_DEPTH
    from tests.unit.node.roles.harness import TASK, node

    n = node(tmp_path)
    reads: list[int] = []
    read_task = n.market.get_task

    def counted(task_id: int, *, block: int | str = "latest") -> Task:
        reads.append(task_id)
        return read_task(task_id, block=block)

    n.market.get_task = counted  # type: ignore[method-assign]
    s = n.services
    s.cycle_at_head()
    assert [t.task_id for t in s.live_tasks()] == [TASK]
    task = n.market.tasks[TASK]
    n.market.tasks[TASK] = replace(task, state=replace(task.state, status=TaskStatus.COMPLETED))
    done_at = n.market.number + 1
    for number in range(done_at, done_at + SETTLED_DEPTH + 3):
        n.market.number = number
        s.cycle_at_head()
        assert s.live_tasks() == []
    # Read at the SETTLED_DEPTH blocks after it was first read done (a reorganisation could still undo it), then
    # not at all: an idle node's reads no longer grow with every task it ever saw.
    assert len(reads) == 1 + SETTLED_DEPTH
    restarted = n.restarted(tmp_path)
    restarted.cycle_at_head()
    assert restarted.live_tasks() == []
    assert len(reads) == 1 + SETTLED_DEPTH, "kept on disk across a restart"


def test_live_tasks_reads_again_a_task_whose_completion_a_reorganisation_undid(tmp_path: Path) -> None:
    from dataclasses import replace

    from node.chain.types import TaskStatus
    from node.roles.context import SETTLED_DEPTH
    from tests.unit.node.roles.harness import TASK, node

    n = node(tmp_path)
    s = n.services
    active = n.market.tasks[TASK]
    n.market.tasks[TASK] = replace(active, state=replace(active.state, status=TaskStatus.COMPLETED))
    s.cycle_at_head()
    assert s.live_tasks() == []
    assert s.state.tasks_done() == {TASK: n.market.number}
    n.market.tasks[TASK] = active  # the block that completed it was reorganised away
    n.market.number += 1
    s.cycle_at_head()
    assert [t.task_id for t in s.live_tasks()] == [TASK]
    assert s.state.tasks_done() == {}
    n.market.number += SETTLED_DEPTH + 1
    s.cycle_at_head()
    assert [t.task_id for t in s.live_tasks()] == [TASK], "still followed once the old mark would have settled"
