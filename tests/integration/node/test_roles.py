"""Roles in-process against a real chain and a real store folder: claim races, the node API."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from client.tasks import Economics, create_task, prepare_task
from node.chain.contract import TaskMarket
from node.chain.hashing import new_salt
from node.chain.types import UnitStatus
from node.config import load_settings
from node.daemon import Daemon
from node.ml.data import digits
from node.ml.defaults import digits_spec
from node.ml.verify import Outcome, Verdict
from node.roles.verifier import VerifierRole
from node.runner import build_roles, build_services
from node.state import Vote, VoteStatus, WorkStatus
from node.store.client import StoreClient
from testkit.chain import UNBONDING_DELAY_S, Chain
from testkit.nodes import dev_settings
from testkit.polling import wait_until

pytestmark = pytest.mark.chain


def _services(
    chain: Chain, tmp_path: Path, name: str, account: int, roles: list[str], store: str | None = None, **extra: object
):  # type: ignore[no-untyped-def]
    deployment = tmp_path / "deployment.json"
    chain.deployment.write(deployment)
    store = store or str(tmp_path / "store")
    extra = {"withdraw_threshold_wei": None, **extra}  # the default threshold, unless a test sets one
    return build_services(dev_settings(chain.rpc_url, deployment, store, tmp_path / name, account, roles, **extra))


def _task(chain: Chain, tmp_path: Path, units: int) -> int:
    owner = chain.market(chain.accounts[1])
    spec = digits_spec(dataset_digest="0x" + "00" * 32, shards=units, local_steps=8, checkpoint_every=4, hidden=16)
    prepared = prepare_task(
        StoreClient.from_endpoints([str(tmp_path / "store")]), spec, digits(), Economics(rounds=1, quorum=1)
    )
    return create_task(owner, prepared)


def test_two_miners_race_for_the_last_open_unit_and_the_loser_carries_on(chain: Chain, tmp_path: Path) -> None:
    task_id = _task(chain, tmp_path, units=1)
    winner, dep = _services(chain, tmp_path, "a", 2, ["miner"])
    loser, _ = _services(chain, tmp_path, "b", 3, ["miner"])
    for s in (winner, loser):
        s.state.add_task(task_id, dep.block_number)
    loser.market.stake(10**18)
    # The loser's cycle read the chain while the unit was open; the winner's claim lands first.
    assert loser.market.is_claimable(task_id, 0, 0)
    view = loser.begin_cycle(chain.w3.eth.block_number, chain.timestamp())
    winner.market.stake(10**18)
    winner.market.claim_unit(task_id, 0, 0)
    build_roles(loser)[0].tick(view)  # must not raise
    assert loser.metrics.claim_races_lost._value.get() == 1
    assert loser.state.work_in_flight() == []
    assert winner.market.get_unit(task_id, 0, 0).miner == winner.address
    build_roles(winner)[0].tick(winner.cycle_at_head())  # the winner trains and submits
    assert winner.market.get_unit(task_id, 0, 0).status is UnitStatus.SUBMITTED
    assert winner.state.get_work(task_id, 0, 0).status is WorkStatus.SUBMITTED  # type: ignore[union-attr]


def test_the_node_api_serves_health_status_and_metrics(chain: Chain, tmp_path: Path) -> None:
    from node.api import serve_in_background
    from node.chain.devnet import free_port

    task_id = _task(chain, tmp_path, units=1)
    port = free_port()
    services, dep = _services(chain, tmp_path, "v", 4, ["verifier", "keeper"], api_port=port)
    daemon = Daemon(services, build_roles(services), start_block=dep.block_number)
    server = serve_in_background(daemon, "127.0.0.1", port)
    try:
        head = chain.w3.eth.block_number
        daemon.cycle()  # it reads up to the head, then stakes and joins the verifier pool (two more blocks)
        assert services.state.tasks() == [task_id], "TaskCreated discovered from the event cursor"
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _ok(f"{url}/health"), timeout_s=10, what="the API")
        status = httpx.get(f"{url}/status").json()
        assert status["address"] == chain.accounts[4].address
        assert status["roles"] == ["verifier", "keeper"]
        assert status["last_block"] == head
        assert services.market.stake_of(services.address).verifying
        metrics = httpx.get(f"{url}/metrics").text
        assert "dml_last_block" in metrics
        assert "dml_votes_committed_total" in metrics or "dml_votes_committed" in metrics
        assert httpx.get(f"{url}/openapi.json").json()["info"]["title"] == "dmlnet node"
    finally:
        server.stop()
        services.state.close()


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_credit_above_the_threshold_is_withdrawn(chain: Chain, tmp_path: Path) -> None:
    services, dep = _services(chain, tmp_path, "w", 7, ["keeper"], withdraw_threshold_wei=10**17)
    market = services.market
    market.stake(10**18)
    market.request_unstake(10**18)
    chain.advance(UNBONDING_DELAY_S + 1)
    market.release_unstaked()
    assert market.credit_of(services.address) == 10**18
    before = chain.w3.eth.get_balance(services.address)
    Daemon(services, build_roles(services), start_block=dep.block_number).cycle()
    assert market.credit_of(services.address) == 0
    assert chain.w3.eth.get_balance(services.address) > before + 10**18 - 10**16, "paid, less gas"
    assert services.metrics.withdrawn_wei._value.get() == 10**18
    services.state.close()


def test_account_commands(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "PW": "a long password", "KEY": "0x" + "42" * 32}

    def dml(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "client.cli", "account", *args, "--dir", str(tmp_path)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    created = dml("new", "--password-env", "PW")
    assert created.returncode == 0, created.stderr
    imported = dml("import", "--key-env", "KEY", "--password-env", "PW")
    assert imported.returncode == 0, imported.stderr
    listed = dml("list").stdout
    assert created.stdout.split()[0] in listed
    assert imported.stdout.split()[0] in listed
    assert "42" * 32 not in listed + imported.stdout + imported.stderr, "a key never shows"
    no_password = dml("new")
    assert no_password.returncode == 2
    assert "password" in no_password.stderr


@pytest.mark.slow
def test_nodes_measure_deadlines_in_chain_time_not_wall_time(chain: Chain, tmp_path: Path) -> None:
    """A chain whose clock trails the wall clock by more than the claim timeout (as a devnet reverted to an older
    snapshot does): nodes that compared deadlines with the wall clock would abandon every claim."""
    import time

    from tests.integration.client.driver import node

    w3 = chain.w3
    # Wind Anvil's clock 40 s back (what a revert to an older snapshot does); the fixture re-aligns it afterwards.
    w3.provider.make_request("evm_setTime", [int(time.time()) - 40])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    assert time.time() - w3.eth.get_block("latest")["timestamp"] > 35
    owner = chain.market(chain.accounts[1])
    spec = digits_spec(dataset_digest="0x" + "00" * 32, shards=1, local_steps=8, checkpoint_every=4, hidden=16)
    store = str(tmp_path / "store")
    prepared = prepare_task(
        StoreClient.from_endpoints([store]),
        spec,
        digits(),
        Economics(rounds=1, quorum=1, claim_timeout_s=30, commit_timeout_s=30, reveal_timeout_s=30),
    )
    task_id = create_task(owner, prepared)
    daemons = [
        node(chain, tmp_path, store, "m", 2, ["miner", "aggregator"])[1],
        node(chain, tmp_path, store, "v", 4, ["verifier", "keeper"])[1],
    ]

    def step() -> bool:
        for d in daemons:
            d.cycle()
        return owner.get_task(task_id).state.status.name == "COMPLETED"

    wait_until(step, timeout_s=60, what="completion on a lagging chain", interval_s=0)
    assert daemons[0].s.state.count_work(WorkStatus.ABANDONED) == 0, "no claim was given up"


def test_a_starting_node_waits_for_its_chain_then_gives_up_with_the_unreachable_code(
    chain: Chain, tmp_path: Path
) -> None:
    from node.chain.devnet import free_port
    from node.errors import ChainUnreachable
    from tests.e2e.rpc_proxy import rpc_proxy

    deployment = tmp_path / "deployment.json"
    chain.deployment.write(deployment)
    base = {"roles": ["miner"], "dev_account": 2, "deployment": deployment, "data_dir": tmp_path / "n"}
    dead = load_settings({**base, "rpc_url": f"http://127.0.0.1:{free_port()}", "chain_wait_s": 1.5})
    with pytest.raises(ChainUnreachable, match="dml devnet up") as info:
        build_services(dead)
    assert info.value.exit_code == 11
    # A chain that answers only after an outage: the node waits it out instead of exiting.
    with rpc_proxy(chain.rpc_url) as (url, proxy):
        proxy.outage(3)
        services, _ = build_services(load_settings({**base, "rpc_url": url, "chain_wait_s": 60}))
        assert proxy.dropped > 0, "the first attempts fell into the outage"
        assert services.market.task_count() == chain.market().task_count()
        services.state.close()


def test_a_node_restarted_on_a_new_chain_under_the_same_data_dir_starts_fresh(tmp_path: Path) -> None:
    """`dml devnet down && dml devnet up` keeps chain id and contract address; the node tells the chains apart by
    their genesis block and moves the old state aside instead of mixing it with the new chain's."""
    from node.chain.build import load_artifact
    from node.chain.deploy import deploy_market
    from node.chain.devnet import Devnet, dev_accounts
    from node.chain.rpc import connect
    from node.chain.tx import Signer

    deployment = tmp_path / "deployment.json"
    cursors = []
    for run in range(2):
        with Devnet(log_path=tmp_path / f"anvil-{run}.log") as devnet:
            w3 = connect(devnet.rpc_url)
            deploy_market(Signer(w3, dev_accounts(1)[0]), load_artifact(), UNBONDING_DELAY_S).write(deployment)
            settings = dev_settings(devnet.rpc_url, deployment, str(tmp_path / "store"), tmp_path / "v", 4, ["keeper"])
            services, _ = build_services(settings)
            cursors.append(services.state.cursor)
            services.state.set_cursor(1_000 + run)
            services.state.close()
    assert cursors == [None, None], "the second chain's node did not inherit the first chain's cursor"
    (aside,) = (tmp_path / "v").glob("state.other-chain-*.sqlite")
    assert aside.exists()


def test_a_store_outage_defers_a_task_and_wrong_material_sets_it_aside(chain: Chain, tmp_path: Path) -> None:
    import dataclasses

    from node.api import create_app
    from node.chain.devnet import free_port
    from node.store.cid import digest_of
    from testkit.servers import store_server

    good = _task(chain, tmp_path, units=1)
    folder = StoreClient.from_endpoints([str(tmp_path / "store")])
    junk = b'{"not": "a task spec"}'
    folder.put(junk)
    owner = chain.market(chain.accounts[1])
    params = dataclasses.replace(owner.get_task(good).params, spec_digest=digest_of(junk))
    bad, _ = owner.create_task(params)

    port = free_port()  # the node's store: down at first
    services, dep = _services(chain, tmp_path, "m", 5, ["miner"], store=f"http://127.0.0.1:{port}")
    tasks = {t: services.market.get_task(t) for t in (good, bad)}
    assert services.materials.of(tasks[good]) is None
    first = services.materials.deferred[good]
    services.materials.of(tasks[good])  # asked again before its time: not fetched again
    assert services.materials.deferred[good] == first
    assert services.materials.of(tasks[bad]) is None
    assert set(services.materials.deferred) == {good, bad}, "a store fault is the store's, not the task's"
    assert services.materials.unusable == {}

    with store_server(tmp_path / "store", port=port):
        wait_until(
            lambda: services.materials.of(tasks[good]) is not None, timeout_s=30, what="the material after the outage"
        )
        wait_until(
            lambda: services.materials.of(tasks[bad]) is None and bad in services.materials.unusable,
            timeout_s=30,
            what="the bad task to be set aside",
        )
    assert services.materials.deferred == {}
    assert "spec" in services.materials.unusable[bad].lower() or "field" in services.materials.unusable[bad].lower()
    assert services.materials.of(tasks[bad]) is None  # set aside for good: never fetched again

    from fastapi.testclient import TestClient

    daemon = Daemon(services, build_roles(services), start_block=dep.block_number)
    status = TestClient(create_app(daemon)).get("/status").json()
    assert status["tasks_set_aside"] == {str(bad): services.materials.unusable[bad]}
    assert status["tasks_waiting_for_store"] == {}
    services.state.close()


def _verifier_and_miner(chain: Chain, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A verifier node's services, staked and in the pool (the only member: every seat is its), and a staked
    miner's market client."""
    verifier, _ = _services(chain, tmp_path, "v", 4, ["verifier"])
    verifier.market.stake(10**18)
    verifier.market.join_verifier_pool()
    miner = chain.market(chain.accounts[2])
    miner.stake(10**19)
    return verifier, miner


def _submit(chain: Chain, miner: TaskMarket, task_id: int, units: list[int]) -> None:
    """Round 0's `units` claimed and submitted by `miner` in one batch each (results the store never saw: these
    tests stop before anything is re-executed), and the seed block mined."""
    miner.claim_units(task_id, 0, units)
    miner.submit_results(task_id, 0, [(i, bytes([i + 1]) * 32, bytes([i + 2]) * 32) for i in units])
    chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def test_a_verifier_draws_due_quorums_in_one_transaction_and_one_by_one_when_the_batch_is_refused(
    chain: Chain, tmp_path: Path
) -> None:
    verifier, miner = _verifier_and_miner(chain, tmp_path)
    role = VerifierRole(verifier)
    sent = verifier.metrics.tx_sent.labels("drawVerifiers")

    # Three units due: one transaction draws them all.
    task_id = _task(chain, tmp_path, units=3)
    _submit(chain, miner, task_id, [0, 1, 2])
    drawn = role._draw_due(verifier.market.get_task(task_id), verifier.market.get_units(task_id, 0), 0)
    assert drawn == {0, 1, 2}
    assert sent._value.get() == 1
    assert [len(verifier.market.get_seats(task_id, 0, i)) for i in range(3)] == [1, 1, 1]

    # Someone draws unit 1 between our read and our batch: the batch is refused whole, the others go one by one.
    task_id = _task(chain, tmp_path, units=3)
    _submit(chain, miner, task_id, [0, 1, 2])
    seen = verifier.market.get_units(task_id, 0)
    miner.draw_verifiers(task_id, 0, 1)
    role._draw_due(verifier.market.get_task(task_id), seen, 0)
    assert sent._value.get() == 1 + 2, "units 0 and 2, each alone"
    assert [len(verifier.market.get_seats(task_id, 0, i)) for i in range(3)] == [1, 1, 1]
    assert verifier.metrics.quorum_draws._value.get() == 3 + 2
    verifier.state.close()


def test_a_verifier_reveals_due_votes_in_one_transaction_and_one_by_one_when_the_batch_is_refused(
    chain: Chain, tmp_path: Path
) -> None:
    verifier, miner = _verifier_and_miner(chain, tmp_path)
    role = VerifierRole(verifier)
    sent = verifier.metrics.tx_sent.labels("revealVotes")

    def committed_votes(task_id: int, units: list[int], *, pause_s: int = 0) -> list[Vote]:
        """The units submitted, drawn (the verifier is the only seat) and committed by the verifier, `pause_s` of
        chain time between two commits; the votes as the verifier's state holds them."""
        _submit(chain, miner, task_id, units)
        miner.draw_quorums(task_id, 0, units)
        votes = []
        for n, index in enumerate(units):
            if n:
                chain.advance(pause_s)
            epoch = verifier.market.get_unit(task_id, 0, index).epoch
            vote = verifier.state.store_vote(Vote(task_id, 0, index, epoch, n % 2 == 0, new_salt(), VoteStatus.STORED))
            verifier.market.commit_vote_for(task_id, 0, index, vote.valid, vote.salt)
            verifier.state.set_vote_status(vote, VoteStatus.COMMITTED)
            votes.append(vote)
        return [v for v in verifier.state.open_votes() if v.task_id == task_id]

    # Two votes due: one transaction reveals both, and each unit settles by its own verdict.
    task_id = _task(chain, tmp_path, units=2)
    role.ballots.follow_up_all(committed_votes(task_id, [0, 1]))
    assert sent._value.get() == 1
    decided = [verifier.market.get_unit(task_id, 0, i) for i in range(2)]
    assert [u.status for u in decided] == [UnitStatus.DECIDED] * 2  # open to challenge for the task's window
    assert [u.verdict for u in decided] == [True, False], "each unit by its own vote"
    assert verifier.state.count_votes(VoteStatus.REVEALED) == 2

    # Unit 0's reveal window closed before the batch: refused whole, unit 1 is revealed alone, unit 0 let go.
    task_id = _task(chain, tmp_path, units=2)
    votes = committed_votes(task_id, [0, 1], pause_s=200)
    chain.advance(150)  # unit 0's reveal deadline (300 s after its commit) has passed, unit 1's has not
    role.ballots.follow_up_all(votes)
    assert sent._value.get() == 1 + 1
    assert verifier.market.get_ballot(task_id, 0, 1, verifier.address).revealed
    assert not verifier.market.get_ballot(task_id, 0, 0, verifier.address).revealed
    assert verifier.state.get_vote(task_id, 0, 0, votes[0].epoch).status is VoteStatus.ABANDONED  # type: ignore[union-attr]
    assert verifier.state.count_votes(VoteStatus.REVEALED) == 3
    verifier.state.close()


def test_a_reveal_a_reorganisation_dropped_is_sent_again_and_the_vote_followed_until_it_is_over(
    chain: Chain, tmp_path: Path
) -> None:
    verifier, miner = _verifier_and_miner(chain, tmp_path)
    role = VerifierRole(verifier)
    task_id = _task(chain, tmp_path, units=1)
    _submit(chain, miner, task_id, [0])
    miner.draw_quorums(task_id, 0, [0])
    epoch = verifier.market.get_unit(task_id, 0, 0).epoch
    vote = verifier.state.store_vote(Vote(task_id, 0, 0, epoch, True, new_salt(), VoteStatus.STORED))
    role.ballots.follow_up_all(verifier.state.open_votes())  # commits
    role.ballots.follow_up_all(verifier.state.open_votes())  # reveals: the only seat, so the unit is decided
    assert verifier.market.get_unit(task_id, 0, 0).status is UnitStatus.DECIDED
    assert verifier.state.get_vote(task_id, 0, 0, epoch).status is VoteStatus.REVEALED  # type: ignore[union-attr]

    chain.w3.provider.make_request("anvil_reorg", [1, []])  # type: ignore[arg-type]  # the reveal's block is gone
    assert not verifier.market.get_ballot(task_id, 0, 0, verifier.address).revealed
    assert verifier.market.signer.reconcile() != []  # the dropped reveal goes out again, its nonce first
    role.ballots.follow_up_all(verifier.state.open_votes())
    assert verifier.market.get_ballot(task_id, 0, 0, verifier.address).revealed
    assert verifier.market.get_unit(task_id, 0, 0).status is UnitStatus.DECIDED
    assert verifier.state.get_vote(task_id, 0, 0, epoch).status is VoteStatus.SETTLED  # type: ignore[union-attr]
    assert vote.salt == verifier.state.get_vote(task_id, 0, 0, epoch).salt  # type: ignore[union-attr]
    assert verifier.state.open_votes() == []
    verifier.state.close()


def test_a_verifier_commits_a_cycles_votes_in_one_transaction_and_first_those_a_re_execution_would_outlast(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier, miner = _verifier_and_miner(chain, tmp_path)
    role = VerifierRole(verifier)
    sent = verifier.metrics.tx_sent.labels("commitVotes")
    advance_after_first: list[int] = []  # chain seconds the first re-execution of a tick seems to take

    def verdict(task, unit, round_, index, material):  # type: ignore[no-untyped-def]
        # Re-execution is not what this test is about (the results are digests the store never saw).
        if advance_after_first:
            chain.advance(advance_after_first.pop())
            verifier.clock.observe(chain.w3.eth.block_number, chain.timestamp())
        return Verdict(Outcome.VALID, "stubbed")

    monkeypatch.setattr(role, "_verdict", verdict)

    def tick() -> None:
        role.tick(verifier.begin_cycle(chain.w3.eth.block_number, chain.timestamp()))

    def committed(task_id: int) -> list[bool]:
        return [verifier.market.get_ballot(task_id, 0, i, verifier.address).committed for i in range(3)]

    # Three units submitted together: re-executed in turn, committed in one transaction.
    task_id = _task(chain, tmp_path, units=3)
    verifier.state.add_task(task_id, 0)
    _submit(chain, miner, task_id, [0, 1, 2])
    tick()
    assert sent._value.get() == 1
    assert committed(task_id) == [True] * 3
    assert verifier.metrics.votes_committed.labels("valid")._value.get() == 3

    # The unit re-executed first was drawn 200 s before the others (commit window: 300 s), and its
    # re-execution ends 5 s before its commit deadline: it is committed alone before the next re-execution, the
    # two others together at the end of the tick.
    task_id = _task(chain, tmp_path, units=3)
    verifier.state.add_task(task_id, 0)
    offset = int(hashlib.sha256(verifier.address.lower().encode()).hexdigest(), 16) % 4
    first = next(i for i in ((offset + k) % 4 for k in range(4)) if i < 3)
    _submit(chain, miner, task_id, [first])
    miner.draw_quorums(task_id, 0, [first])  # its commit window opens now
    chain.advance(200)
    _submit(chain, miner, task_id, [i for i in range(3) if i != first])
    advance_after_first.append(300 - 200 - 5)
    tick()
    assert sent._value.get() == 1 + 2, "the close one alone, then the two others in one transaction"
    assert committed(task_id) == [True] * 3
    verifier.state.close()


def _miner(chain: Chain, tmp_path: Path, task_id: int, claim_batch: int):  # type: ignore[no-untyped-def]
    """A miner node's services (data dir "m": built again, it is the same node restarted) following `task_id`."""
    miner, dep = _services(chain, tmp_path, "m", 2, ["miner"], claim_batch=claim_batch)
    miner.state.add_task(task_id, dep.block_number)
    return miner


def _timed_miner(chain: Chain, tmp_path: Path, claim_batch: int):  # type: ignore[no-untyped-def]
    """A 3-unit task and a miner that took one unit of it alone (untimed), so that its next claim is a batch."""
    task_id = _task(chain, tmp_path, units=3)
    miner = _miner(chain, tmp_path, task_id, claim_batch=claim_batch)
    role = build_roles(miner)[0]
    role.tick(miner.cycle_at_head())
    return task_id, miner, role


def test_a_miner_claims_what_it_can_train_before_the_deadline_in_one_transaction_and_submits_it_in_one(
    chain: Chain, tmp_path: Path
) -> None:
    task_id = _task(chain, tmp_path, units=4)
    miner = _miner(chain, tmp_path, task_id, claim_batch=3)
    role = build_roles(miner)[0]
    claims, submissions = miner.metrics.tx_sent.labels("claimUnits"), miner.metrics.tx_sent.labels("submitResults")

    role.tick(miner.cycle_at_head())  # untimed: one unit, to learn how long a unit takes
    assert (claims._value.get(), submissions._value.get(), miner.metrics.units_claimed._value.get()) == (1, 1, 1)
    role.tick(
        miner.cycle_at_head()
    )  # a unit takes seconds, the claim timeout is 600 s: the 3 others fit, and claim_batch allows 3
    assert (claims._value.get(), submissions._value.get(), miner.metrics.units_claimed._value.get()) == (2, 2, 4)
    units = miner.market.get_units(task_id, 0)
    assert [(u.status, u.miner) for u in units[:4]] == [(UnitStatus.SUBMITTED, miner.address)] * 4
    assert [w.status for w in miner.state.work_in_flight()] == []
    role.tick(miner.cycle_at_head())  # nothing left to claim, nothing sent twice
    assert (claims._value.get(), submissions._value.get()) == (2, 2)
    miner.state.close()


def test_a_miner_killed_between_training_and_submitting_a_batch_submits_it_once_when_restarted(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id, miner, role = _timed_miner(chain, tmp_path, claim_batch=2)

    def killed() -> None:
        if any(w.status is WorkStatus.PUBLISHED for w in miner.state.work_in_flight()):
            raise KeyboardInterrupt("killed after training")

    monkeypatch.setattr(role, "_submit_published", killed)
    with pytest.raises(KeyboardInterrupt):
        role.tick(miner.cycle_at_head())  # claims the 2 others in one transaction, trains both, dies before submitting
    assert sorted(w.status for w in miner.state.work_in_flight()) == [WorkStatus.PUBLISHED] * 2
    statuses = sorted(u.status.value for u in miner.market.get_units(task_id, 0)[:3])
    assert statuses == [UnitStatus.CLAIMED.value] * 2 + [UnitStatus.SUBMITTED.value], "the batch claimed, not submitted"
    miner.state.close()

    restarted = _miner(chain, tmp_path, task_id, claim_batch=2)
    build_roles(restarted)[0].tick(restarted.cycle_at_head())
    assert restarted.metrics.tx_sent.labels("submitResults")._value.get() == 1, "both results in one transaction"
    assert restarted.metrics.tx_sent.labels("claimUnits")._value.get() == 0, "nothing trained or claimed again"
    assert [u.status for u in restarted.market.get_units(task_id, 0)[:3]] == [UnitStatus.SUBMITTED] * 3
    assert restarted.state.work_in_flight() == []
    restarted.state.close()


def test_a_miner_submits_what_it_trained_before_training_on_past_its_deadline(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id, miner, role = _timed_miner(chain, tmp_path, claim_batch=2)
    train = role._train
    trained: list[int] = []

    def train_then_let_time_pass(task, work, material):  # type: ignore[no-untyped-def]
        out = train(task, work, material)
        trained.append(work.unit)
        if len(trained) == 1:
            chain.advance(600 - 5)  # the batch's claim deadline is now closer than another unit's training
            miner.clock.observe(chain.w3.eth.block_number, chain.timestamp())  # as a cycle would see it
        return out

    monkeypatch.setattr(role, "_train", train_then_let_time_pass)
    role.tick(miner.cycle_at_head())
    sent = miner.metrics.tx_sent.labels("submitResults")._value.get()
    assert sent == 1 + 2, "the trained unit went out alone before the next was trained, then the next"
    assert [u.status for u in miner.market.get_units(task_id, 0)[:3]] == [UnitStatus.SUBMITTED] * 3
    miner.state.close()


def test_an_aggregator_claims_and_submits_in_one_transaction_and_a_restart_never_sends_it_twice(
    chain: Chain, tmp_path: Path
) -> None:
    """Round 0: the aggregator dies right after its claimAndSubmit landed; round 1: right before sending it. Each
    time the restarted node reads the chain: the landed one is not sent again, the unsent one is sent once."""
    from tests.integration.client.driver import node

    owner = chain.market(chain.accounts[1])
    store = str(tmp_path / "store")
    spec = digits_spec(dataset_digest="0x" + "00" * 32, shards=1, local_steps=8, checkpoint_every=4, hidden=16)
    prepared = prepare_task(StoreClient.from_endpoints([store]), spec, digits(), Economics(rounds=2, quorum=1))
    task_id = create_task(owner, prepared)
    others = [
        node(chain, tmp_path, store, "m", 2, ["miner"])[1],
        node(chain, tmp_path, store, "v", 4, ["verifier", "keeper"])[1],
    ]

    def aggregation_open(round_: int) -> bool:
        for d in others:
            d.cycle()
        return owner.is_claimable(task_id, round_, 1)

    def aggregator(kill: str | None):  # type: ignore[no-untyped-def]
        services, daemon = node(chain, tmp_path, store, "a", 3, ["aggregator"])
        send = services.market.claim_and_submit

        def killed(*args):  # type: ignore[no-untyped-def]
            if kill == "before":
                raise KeyboardInterrupt("killed before sending")
            send(*args)
            raise KeyboardInterrupt("killed after sending")

        if kill is not None:
            services.market.claim_and_submit = killed  # type: ignore[method-assign]
        return services, daemon

    for round_, kill in ((0, "after"), (1, "before")):
        wait_until(
            lambda r=round_: aggregation_open(r), timeout_s=120, what=f"round {round_}'s aggregation", interval_s=0
        )
        services, daemon = aggregator(kill)
        with pytest.raises(KeyboardInterrupt):
            daemon.cycle()
        row = services.state.get_work(task_id, round_, 1)
        assert row is not None
        assert row.status is WorkStatus.PUBLISHED, "the row is on disk before the transaction"
        landed = owner.get_unit(task_id, round_, 1).status is UnitStatus.SUBMITTED
        assert landed == (kill == "after")
        services.state.close()

        services, daemon = aggregator(None)
        daemon.cycle()
        sent = services.metrics.tx_sent.labels("claimAndSubmit")._value.get()
        assert sent == (0 if kill == "after" else 1), "sent once in all"
        assert services.metrics.tx_sent.labels("claimUnits")._value.get() == 0, "never claimed alone"
        assert services.state.get_work(task_id, round_, 1).status is WorkStatus.SUBMITTED  # type: ignore[union-attr]
        unit = owner.get_unit(task_id, round_, 1)
        assert (unit.status, unit.miner) == (UnitStatus.SUBMITTED, services.address)
        services.state.close()

    def completed() -> bool:
        for d in others:
            d.cycle()
        return owner.get_task(task_id).state.status.name == "COMPLETED"

    wait_until(completed, timeout_s=120, what="completion", interval_s=0)
    assert owner.round_input(task_id, 1) == owner.get_unit(task_id, 0, 1).model_digest, "round 1 ran on the aggregate"
