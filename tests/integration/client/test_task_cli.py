"""The task, data, money and audit commands through Typer's runner against a real chain and store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from client.cli import app
from node.chain.types import TaskStatus
from node.store.cid import digest_of, to_cid
from node.store.client import StoreClient
from node.store.local import LocalStore
from testkit.chain import Chain
from testkit.evms import EVMS
from testkit.ipfs import helia_fetch, object_cids
from testkit.servers import lying_replica, store_server
from tests.integration.client.driver import complete

pytestmark = pytest.mark.chain
runner = CliRunner()


def flags(chain: Chain, tmp_path: Path, store: str) -> list[str]:
    deployment = tmp_path / "deployment.json"
    chain.deployment.write(deployment)
    return ["--rpc", chain.rpc_url, "--deployment", str(deployment), "--store", store]


def dml(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "client.cli", *args], capture_output=True, text=True, timeout=120, check=False
    )


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def submit_small_task(f: list[str], *extra: str) -> int:
    """A 1-round, 2-unit, quorum-1 digits task of 8 steps per unit, submitted as the devnet owner; its id."""
    small = ["--units", "2", "--rounds", "1", "--quorum", "1", "--local-steps", "8"]
    out = invoke("task", "submit", *small, *extra, "--yes", "--dev-account", "1", *f)
    return int(out.strip().splitlines()[-1].split()[1])


def test_data_task_and_money_commands(chain: Chain, tmp_path: Path) -> None:
    with store_server(tmp_path / "objects") as (store, _):
        f = flags(chain, tmp_path, store)
        data_cid = invoke("data", "add", "digits", "--shards", "2", *f).split()[0]
        assert data_cid.startswith("bafkrei")
        small = ["--units", "2", "--rounds", "1", "--quorum", "1", "--local-steps", "8"]
        out = invoke("task", "submit", "--dataset", data_cid, *small, "--yes", "--dev-account", "1", *f)
        task_id = int(out.strip().splitlines()[-1].split()[1])
        assert "budget" in out
        listing = invoke("task", "list", *f[:4])  # reads the chain only: no --store
        assert "active" in listing
        assert f"│ {task_id} " in listing or f"{task_id} " in listing
        assert "units of this round" in invoke("task", "show", str(task_id), *f)

        complete(chain, tmp_path, store, task_id)
        shown = invoke("task", "show", str(task_id), *f)
        task = chain.market().get_task(task_id)
        for needle in (task.state.owner, to_cid(task.params.spec_digest), to_cid(task.state.final_model_digest),
                       "challenge window", "accuracy"):  # fmt: skip
            assert needle in shown.replace("\n", ""), needle
        assert "verifier 0.010000 ETH" in " ".join(shown.split())
        watched = invoke("task", "watch", str(task_id), *f)
        assert "completed" in watched
        assert "accuracy" in watched
        model = tmp_path / "model.safetensors"
        invoke("task", "download", str(task_id), "--out", str(model), *f)
        final = chain.market().get_task(task_id).state.final_model_digest
        assert digest_of(model.read_bytes()) == final

        # Every object of the task, the final model included, fetched by its CID with Helia's trustless-gateway
        # client from the running store server, as any IPFS node would fetch it.
        objects = object_cids(tmp_path / "objects")
        assert StoreClient.from_endpoints([store]).cid_for(to_cid(final)) in objects
        fetched = tmp_path / "helia"
        fetched.mkdir()
        sizes = helia_fetch(store, fetched, objects)
        for cid in objects:
            assert (fetched / cid).read_bytes() == LocalStore(tmp_path / "objects").get(cid), cid
        assert len(sizes) == len(objects) > 10

        # The final model evaluated by task id (held-out split) and as a file (its spec fetched from the store).
        from client.progress import ProgressReader

        held_out = ProgressReader(chain.market(), StoreClient.from_endpoints([store]), task_id, 0).read().figures[0]
        by_id = invoke("model", "eval", str(task_id), *f)
        assert f"accuracy {held_out:.4f}" in by_id
        spec_file = tmp_path / "spec.json"
        invoke("store", "get", to_cid(task.params.spec_digest), "-o", str(spec_file), "--store", store)
        by_file = invoke("model", "eval", str(model), "--spec", str(spec_file), "--dataset", "digits")
        assert "on 1797 samples of digits" in by_file
        # Starting a new task from that model: its initial model is exactly those tensors.
        again = submit_small_task(f, "--initial-model", str(model))
        assert chain.market().get_task(again).params.initial_model_digest == final
        assert "passed" in invoke("audit", str(task_id), "--full", "--out", str(tmp_path), *f)
        report = json.loads((tmp_path / f"audit-task-{task_id}.json").read_text())
        assert report["ok"] is True
        assert report["units_reverified"] == 2
        assert report["aggregates_reverified"] == 1
        assert (
            report["money"]["budget"] + report["money"]["slashed_in"] - report["money"]["credited"]
            == report["money"]["escrow"]
        )
        assert (tmp_path / f"audit-task-{task_id}.html").exists()

        second = submit_small_task(f, "--dataset", data_cid)
        assert "cancelled" in invoke("task", "cancel", str(second), "--yes", "--dev-account", "1", *f)
        owner = chain.accounts[1].address
        refund = chain.market().credit_of(owner)
        assert refund == chain.market().get_task(second).params.budget
        assert chain.market().get_task(second).state.status is TaskStatus.CANCELLED
        invoke("stake", "1.1", "--dev-account", "1", *f)  # a float made it 1,100,000,000,000,000,128 wei
        assert chain.market().stake_of(owner).total == 1_100_000_000_000_000_000
        invoke("stake", "400000000 gwei", "--dev-account", "1", *f)
        assert chain.market().stake_of(owner).total == 15 * 10**17
        invoke("unstake", "0.5", "--dev-account", "1", *f)
        assert chain.market().stake_of(owner).unbonding == 5 * 10**17
        refused = dml("stake", "--dev-account", "1", *f, "--", "-1")
        assert (refused.returncode, refused.stderr.strip()) == (2, "error: stake: -1 is negative")
        assert chain.market().stake_of(owner).total == 15 * 10**17, "nothing staked"
        assert "withdrew" in invoke("withdraw", "--dev-account", "1", *f)
        assert chain.market().credit_of(owner) == 0


def test_errors_are_one_line_with_distinct_exit_codes(chain: Chain, tmp_path: Path) -> None:
    with store_server(tmp_path / "objects") as (store, _):
        f = flags(chain, tmp_path, store)
        unknown = dml("task", "show", "999", *f)
        assert unknown.returncode == 3
        assert "no task 999" in unknown.stderr
        spec = tmp_path / "spec.json"
        spec.write_text(
            '{"model": {"input_shape": [64], "layers": [{"type": "linear", "in_features": 0, "out_features": 2}]}}'
        )
        malformed = dml("task", "submit", "--spec", str(spec), "--yes", *f)
        assert malformed.returncode == 40
        assert "model.layers.0.linear.in_features" in malformed.stderr
        assert "Traceback" not in malformed.stderr
        poor = dml("task", "submit", "--units", "2", "--miner-reward", "100000", "--yes", "--dev-account", "19", *f)
        assert poor.returncode == 4
        assert "missing" in poor.stderr
        wrong_chain = tmp_path / "other.json"
        document = json.loads((tmp_path / "deployment.json").read_text())
        document["chain_id"] = 1
        wrong_chain.write_text(json.dumps(document))
        wrong = dml("task", "list", "--rpc", chain.rpc_url, "--deployment", str(wrong_chain))
        assert wrong.returncode == 12
        assert "chain id" in wrong.stderr
        assert len(wrong.stderr.strip().splitlines()) == 1


def test_audit_fails_naming_the_unit_when_only_a_tampering_replica_is_left(chain: Chain, tmp_path: Path) -> None:
    with store_server(tmp_path / "objects") as (store, _):
        f = flags(chain, tmp_path, store)
        task_id = submit_small_task(f)
        complete(chain, tmp_path, store, task_id)

        objects = {p.name: p.read_bytes() for p in (tmp_path / "objects").glob("*/*/*") if p.name.startswith("bafkrei")}
        assert LocalStore(tmp_path / "objects").has(next(iter(objects)))
    with lying_replica(objects, "flip") as liar:  # the honest server is gone; one replica flips bytes
        deployment = tmp_path / "deployment.json"
        result = dml(
            "audit",
            str(task_id),
            "--out",
            str(tmp_path),
            "--rpc",
            chain.rpc_url,
            "--deployment",
            str(deployment),
            "--store",
            liar,
        )
    assert result.returncode == 60, result.stdout + result.stderr
    assert "FINDING artifact" in result.stdout
    assert "round 1 unit" in result.stdout


def test_audit_fails_naming_the_unit_a_colluding_verifier_accepted(chain: Chain, tmp_path: Path) -> None:
    from node.chain.hashing import new_salt
    from node.chain.types import UnitStatus
    from node.roles.miner import MinerRole
    from testkit.adversaries import CheatingMinerRole
    from testkit.polling import wait_until
    from tests.integration.client.driver import node

    with store_server(tmp_path / "objects") as (store, _):
        f = flags(chain, tmp_path, store)
        task_id = submit_small_task(f)
        cheater, cheater_daemon = node(chain, tmp_path, store, "cheater", 2, ["miner"])
        cheater_daemon.roles = [CheatingMinerRole(cheater, "noise")]
        aggregator, aggregator_daemon = node(chain, tmp_path, store, "aggregator", 3, ["aggregator"])
        aggregator_daemon.roles = [MinerRole(aggregator, train=False, aggregate=True)]
        colluder = chain.market(chain.accounts[4])
        colluder.stake(10**18)
        colluder.join_verifier_pool()  # the only verifier in the pool: every seat is its own
        salts: dict[tuple[int, int], bytes] = {}

        def approve_everything() -> None:
            for index in range(3):
                unit = colluder.get_unit(task_id, 0, index)
                key = (index, unit.epoch)
                if unit.status is UnitStatus.SUBMITTED and unit.seats == 0:
                    colluder.draw_verifiers(task_id, 0, index)
                elif unit.status is UnitStatus.SUBMITTED and key not in salts:
                    salts[key] = new_salt()
                    colluder.commit_vote_for(task_id, 0, index, True, salts[key])
                elif unit.status is UnitStatus.REVEALING and key in salts:
                    colluder.reveal_vote(task_id, 0, index, True, salts[key])
                elif unit.status is UnitStatus.DECIDED:
                    chain.advance(unit.deadline - chain.timestamp() + 1)  # nobody watches: the window passes
                    colluder.finalize_unit(task_id, 0, index)

        def step() -> bool:
            cheater_daemon.cycle()
            aggregator_daemon.cycle()
            approve_everything()
            return chain.market().get_task(task_id).state.status is TaskStatus.COMPLETED

        wait_until(step, timeout_s=120, what="the colluded task", interval_s=0)
        result = dml("audit", str(task_id), "--full", "--out", str(tmp_path), *f)
    assert result.returncode == 60, result.stdout + result.stderr
    assert "FINDING wrong acceptance round 1 unit 0" in result.stdout
    assert "FINDING wrong acceptance round 1 unit 1" in result.stdout
    assert "does not re-execute" in result.stdout


@pytest.mark.parametrize("chain", EVMS, indirect=True)
def test_audit_challenge_appeals_a_captured_verdict_and_dml_challenge_refuses_a_final_one(
    chain: Chain, tmp_path: Path
) -> None:
    """A colluding verifier, alone in the pool, accepts noise; within the challenge window the owner's
    `dml audit --challenge` re-executes the open verdict, finds it wrong and appeals it. On every EVM."""
    import contextlib

    from node.chain.hashing import new_salt
    from node.chain.reverts import TaskMarketSeedNotReady
    from node.chain.types import UnitStatus
    from testkit.adversaries import CheatingMinerRole
    from testkit.polling import wait_until
    from tests.integration.client.driver import node

    with store_server(tmp_path / "objects") as (store, _):
        f = flags(chain, tmp_path, store)
        task_id = submit_small_task(f, "--challenge-window", "600")
        cheater, cheater_daemon = node(chain, tmp_path, store, "cheater", 2, ["miner"])
        cheater_daemon.roles = [CheatingMinerRole(cheater, "noise")]
        colluder = chain.market(chain.accounts[4])
        colluder.stake(10**18)
        colluder.join_verifier_pool()
        salt = new_salt()

        def captured() -> bool:
            cheater_daemon.cycle()
            unit = colluder.get_unit(task_id, 0, 0)
            if unit.status is UnitStatus.SUBMITTED and unit.seats == 0:
                with contextlib.suppress(TaskMarketSeedNotReady):  # Ganache: simulated in the block it is at
                    colluder.draw_verifiers(task_id, 0, 0)
            elif unit.status is UnitStatus.SUBMITTED:
                colluder.commit_vote_for(task_id, 0, 0, True, salt)
            elif unit.status is UnitStatus.REVEALING:
                colluder.reveal_vote(task_id, 0, 0, True, salt)
            return unit.status is UnitStatus.DECIDED

        wait_until(captured, timeout_s=120, what="the colluder's verdict", interval_s=0)
        chain.market(chain.accounts[1]).stake(10**18)  # the owner stakes for the challenge bond
        result = dml("audit", str(task_id), "--challenge", "--dev-account", "1", "--out", str(tmp_path), *f)
        assert "round 1 unit 0: verdict valid is wrong" in result.stdout, result.stdout + result.stderr
        unit = colluder.get_unit(task_id, 0, 0)
        assert (unit.status, unit.level) == (UnitStatus.SUBMITTED, 1), "a level-1 quorum is due"
        assert colluder.get_level(task_id, 0, 0, 1).challenger == chain.accounts[1].address
        refused = dml("challenge", str(task_id), "1", "0", "--yes", "--dev-account", "1", *f)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "no verdict open to challenge" in refused.stderr


def test_deploy_to_any_rpc_writes_a_usable_deployment_file(chain: Chain, tmp_path: Path) -> None:
    out = tmp_path / "dep.json"
    result = runner.invoke(app, ["deploy", "--rpc", chain.rpc_url, "--dev-account", "9", "--out", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert document["chain_id"] == 31337
    assert document["abi_digest"] == chain.artifact.abi_digest
    assert chain.w3.eth.get_code(document["address"]) != b""
    both = runner.invoke(app, ["deploy", "--rpc", chain.rpc_url, "--out", str(out)])
    assert isinstance(both.exception, Exception)
    assert "exactly one of" in str(both.exception)
