"""The honesty matrix through the whole network: every case of testkit.matrix (every optimizer variant, layer kind,
aggregation rule, global-model option and example spec) is a task of 2 rounds on one devnet, with a real store
server and node processes that are all honest (2 miners that also aggregate, 2 verifiers that also watch and
keep). Every task must complete with nothing rejected, expired, challenged or slashed.

The tasks run side by side on one network (one module-scoped run, asserted case by case): a case is one task, so
a new layer kind, optimizer or example joins this test by joining the matrix."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from typer.testing import CliRunner

from client.cli import app
from client.datasets import context_of, load_dataset
from client.tasks import Economics, prepare_task
from node.chain.types import TaskStatus
from testkit.chain import Chain, reverted
from testkit.matrix import MatrixCase, all_cases, case_ids
from testkit.network import Network, network
from testkit.polling import wait_until

pytestmark = [pytest.mark.chain, pytest.mark.slow]

CASES = all_cases()
ROUNDS = 2
OWNER = 1
# Side by side, every task's windows run at once: the network's wall time is about the slowest task's.
DEADLINE_S = 1500


@dataclass
class MatrixRun:
    net: Network
    tasks: dict[str, int]  # case name → task id
    events: list[tuple[str, dict[str, object]]]
    statuses: dict[int, TaskStatus]


def _submit_example(net: Network, case: MatrixCase) -> int:
    """An example as its README says to submit it (without --watch), through the CLI."""
    assert case.example is not None
    flags = ["--rpc", net.rpc_url, "--deployment", str(net.deployment_path), "--store", net.store_url]
    result = CliRunner().invoke(
        app,
        ["task", "submit", "--spec", str(case.example), "--dataset", case.dataset, "--rounds", str(ROUNDS),
         "--quorum", "1", "--yes", "--dev-account", str(OWNER), *flags],
    )  # fmt: skip
    assert result.exit_code == 0, (result.output, result.exception)
    return int(result.output.strip().splitlines()[-1].split()[1])


@pytest.fixture(scope="module")
def matrix(chain_session: Chain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MatrixRun]:
    with reverted(chain_session) as chain, network(chain, tmp_path_factory.mktemp("matrix")) as net:
        owner = chain.market(chain.accounts[OWNER])
        start = chain.w3.eth.block_number
        tasks: dict[str, int] = {}
        for case in CASES:
            if case.example is not None:
                tasks[case.name] = _submit_example(net, case)
            else:  # the functions the CLI's submit calls, with the case's spec object
                economics = Economics(rounds=ROUNDS, quorum=1)
                prepared = prepare_task(
                    net.store(), case.spec, load_dataset(case.dataset, context=context_of(case.spec)), economics
                )
                tasks[case.name], _ = owner.create_task(prepared.params)
        for name, account in (("miner-a", 2), ("miner-b", 3)):
            net.node(name, "miner,aggregator", account).start()
        for name, account in (("verifier-a", 4), ("verifier-b", 5)):
            net.node(name, "verifier,keeper", account).start()

        def settled() -> bool:
            return all(owner.get_task(t).state.status is not TaskStatus.ACTIVE for t in tasks.values())

        try:
            wait_until(settled, timeout_s=DEADLINE_S, what="every matrix task to complete", interval_s=2)
        except TimeoutError:
            print(net.logs())  # the per-case tests below say which tasks did not complete
        statuses = {t: owner.get_task(t).state.status for t in tasks.values()}
        yield MatrixRun(net, tasks, net.events(start), statuses)


@pytest.mark.parametrize("case", CASES, ids=case_ids(CASES))
def test_honest_work_on_every_spec_is_accepted_and_nobody_is_slashed(matrix: MatrixRun, case: MatrixCase) -> None:
    task_id = matrix.tasks[case.name]
    mine = [(name, a) for name, a in matrix.events if a.get("taskId") == task_id]
    refused = [
        (name, a.get("round"), a.get("index"))
        for name, a in mine
        if name in ("UnitRejected", "UnitExpired", "StakeSlashed", "VerdictChallenged")
    ]
    assert refused == [], f"{case.name}: honest work refused"
    assert matrix.statuses[task_id] is TaskStatus.COMPLETED, f"{case.name}: task {task_id} did not complete"
    accepted = [a for name, a in mine if name == "UnitAccepted"]
    assert len(accepted) == ROUNDS * (case.spec.dataset.shards + 1), "every unit and aggregate of both rounds"


def test_every_node_is_still_running_and_logged_no_traceback(matrix: MatrixRun) -> None:
    for name, node in matrix.net.nodes.items():
        assert node.alive, f"{name} exited: {node.log()[-2000:]}"
        assert "Traceback" not in node.log(), f"{name}: {node.log()[-4000:]}"
    assert [a for name, a in matrix.events if name == "StakeSlashed"] == []


def test_the_matrix_is_every_case(matrix: MatrixRun) -> None:
    assert set(matrix.tasks) == {c.name for c in CASES}
    assert len(set(matrix.tasks.values())) == len(CASES), "one task per case"
