"""Split training end to end (issue: model privacy): an owner's node, 2 miners (one faking its middle's output) and
3 verifiers on a real chain and a real HTTP store, daemons driven in-process, the step protocol over real HTTP.

The task completes; the faking miner's results are rejected and its bonds slashed; the private layers the owner's
node ends with appear nowhere but on its own disk (not in the store, not on any other node's disk: scanned for
their bytes); and the owner's whole model, put together from its disk and the public middle, classifies digits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from node.audit.audit import audit_task
from node.chain.devnet import free_port
from node.chain.events import EventReader
from node.chain.hashing import unit_seed
from node.daemon import Daemon
from node.ml.baseline import federated
from node.ml.defaults import digits_spec
from node.ml.evaluate import evaluate
from node.ml.material import load_material
from node.ml.model import build_module, relative_distance, state_from_bytes, state_of, state_to_bytes, tensor_specs
from node.roles.owner import owner_model, private_path
from node.runner import build_roles, build_services
from node.store.cid import cid_of, digest_of, to_cid
from node.store.client import StoreClient
from node.store.errors import ContentNotFound
from testkit.adversaries import CheatingMinerRole
from testkit.chain import Chain
from testkit.nodes import dev_settings
from testkit.servers import store_server
from tests.e2e.inprocess import drive, short_task
from tests.e2e.ledger import Ledger
from tests.integration.client.driver import node
from tests.integration.client.test_task_cli import flags, invoke

pytestmark = [pytest.mark.chain, pytest.mark.slow]

ROUNDS = 2


@pytest.fixture
def store_url(tmp_path: Path) -> Iterator[str]:
    with store_server(tmp_path / "store", max_bytes=1 << 30) as (url, _):
        yield url


def _files(root: Path) -> Iterator[Path]:
    return (p for p in root.rglob("*") if p.is_file())


def test_a_split_task_completes_keeps_its_private_layers_home_and_slashes_a_faked_middle(
    chain: Chain, tmp_path: Path, store_url: str
) -> None:
    port = free_port()
    spec = digits_spec(
        dataset_digest="0x" + "00" * 32, shards=2, local_steps=40, checkpoint_every=10, hidden=32,
        owner_url=f"http://127.0.0.1:{port}",
    )  # fmt: skip
    start = chain.w3.eth.block_number
    task_id = short_task(chain, store_url, spec, rounds=ROUNDS)
    owner_market = chain.market(chain.accounts[1])
    params = owner_market.get_task(task_id).params

    deployment = tmp_path / "deployment.json"
    chain.deployment.write(deployment)
    owner_dir = tmp_path / "owner-node"
    owner_services, dep = build_services(
        dev_settings(chain.rpc_url, deployment, store_url, owner_dir, 1, ["owner"], owner_port=port)
    )
    owner_roles = build_roles(owner_services)
    services, faker = node(chain, tmp_path, store_url, "faker-3", 3, ["miner"])
    faker.roles = [CheatingMinerRole(services, "fake-output")]
    daemons = [faker]  # before the honest miner: it takes a unit in the first round
    daemons.append(node(chain, tmp_path, store_url, "miner-2", 2, ["miner", "aggregator"])[1])
    daemons += [node(chain, tmp_path, store_url, f"verifier-{a}", a, ["verifier", "keeper"])[1] for a in (4, 5, 6)]
    # The owner's node cycles last: in the pass where the task completes, it combines the last round's layers
    # (it serves the step protocol from its own thread all along).
    owner_daemon = Daemon(owner_services, owner_roles, start_block=dep.block_number)
    daemons.append(owner_daemon)
    restarted: list[int] = []

    def restart_the_owner_in_round_1() -> None:
        """The owner's node stops and starts again once round 1 is open: a new one knows nothing in memory, finds
        round 0's private layers on disk and serves round 1 from them."""
        if restarted or owner_market.get_task(task_id).state.current_round != 1:
            return
        for role in owner_daemon.roles:
            role.close()  # type: ignore[attr-defined]
        owner_daemon.roles = build_roles(owner_services)
        restarted.append(1)

    try:
        drive(chain, task_id, daemons, first=restart_the_owner_in_round_1)
    finally:
        for role in owner_daemon.roles:
            role.close()  # type: ignore[attr-defined]
    assert restarted, "the owner's node was restarted mid-task"

    # The faking miner: every result it sent rejected, one unit bond slashed for each, nothing credited.
    reader = EventReader(chain.w3, chain.deployment.address, chain.artifact.abi)
    ledger = Ledger.of(reader.read(start, reader.head()), task_id, params.units_per_round)
    fakes = chain.accounts[3].address
    assert ledger.rejected, "the faking miner got a unit and was caught"
    assert {r["miner"] for r in ledger.rejected} == {fakes}
    assert fakes not in {a["miner"] for a in ledger.accepted}
    assert ledger.slashed[fakes] == len(ledger.rejected) * params.unit_bond
    assert ledger.credited[fakes] == 0

    # The owner's private layers: on its disk, and nowhere else (by their bytes, tensor by tensor).
    store = StoreClient.from_endpoints([store_url])
    task = owner_market.get_task(task_id)
    material = load_material(
        store.get(to_cid(task.params.spec_digest)), store.get,
        spec_cid=to_cid(task.params.spec_digest), dataset_cid=to_cid(task.params.dataset_digest),
    )  # fmt: skip
    public = state_from_bytes(store.get(to_cid(task.state.final_model_digest)), material.model_specs)
    identity = chain.deployment.identity(chain.w3)
    final = private_path(owner_dir, identity, task_id, ROUNDS)
    whole = owner_model(owner_dir, identity, task_id, ROUNDS, public, material)
    assert whole is not None
    assert final.exists()
    private = {k: v for k, v in whole.items() if k not in public}
    assert private
    assert set(private).isdisjoint(material.model_specs)
    owners_files = [p for p in _files(owner_dir) if p.suffix == ".safetensors"]
    assert len(owners_files) >= 2 * ROUNDS + ROUNDS, "each accepted unit's private layers, and each round's"
    for path in owners_files:  # by digest: not one of the owner's files is an object of the store
        with pytest.raises(ContentNotFound):
            store.get(cid_of(path.read_bytes()))
    needles = [state_to_bytes(private), *(v.contiguous().numpy().tobytes() for v in private.values())]
    elsewhere = [p for p in _files(tmp_path) if owner_dir not in p.parents]
    assert len(elsewhere) > 50, "the store and the other nodes' folders were scanned"
    for path in elsewhere:
        data = path.read_bytes()
        for needle in needles:
            assert needle not in data, f"a private tensor's bytes found in {path}"

    # The owner's whole model is what plain federated training computes with the accepted units' seeds: split
    # training over the network and the owner's combining lose nothing.
    seeds = {(int(a["round"]), int(a["index"])): str(a["miner"]) for a in ledger.accepted}
    reference = federated(
        material.spec,
        state_of(build_module(material.spec.model, seed=0)),
        list(material.data.shards()),
        ROUNDS,
        lambda r, i: unit_seed(task_id, r, i, seeds[(r, i)]),
        task_id=task_id,
    )[-1]
    assert relative_distance(whole, reference) < 1e-5
    accuracy = evaluate(material.spec.model, whole, material.test_set()).accuracy
    assert accuracy > 0.6, accuracy  # 2 rounds of 40 steps of a small CNN

    # Downloads: anyone gets the public middle (the very bytes on chain); the owner, with its node's folder, the
    # whole model. Watching and auditing a split task work without evaluating what only the owner holds.
    f = flags(chain, tmp_path, store_url)
    middle_file, whole_file = tmp_path / "middle.safetensors", tmp_path / "whole.safetensors"
    said = invoke("task", "download", str(task_id), "--out", str(middle_file), *f)
    assert "public middle only" in " ".join(said.split())
    assert digest_of(middle_file.read_bytes()) == task.state.final_model_digest
    invoke("task", "download", str(task_id), "--out", str(whole_file), "--owner-dir", str(owner_dir), *f)
    downloaded = state_from_bytes(whole_file.read_bytes(), tensor_specs(build_module(material.spec.model)))
    assert relative_distance(downloaded, whole) == 0.0
    assert "completed" in invoke("task", "watch", str(task_id), *f)

    # The audit re-executes the units from the store alone (the recorded traffic and the middle) and balances.
    report = audit_task(owner_market, store, task_id, from_block=start, full=True)
    assert report.ok, report.findings
    assert report.money["budget"] + report.money["slashed_in"] == report.money["credited"]
