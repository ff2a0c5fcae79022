"""``dml demo`` for the foundation stage: a throwaway devnet, a deployment, a sample task driven through one
accepted unit by the contract calls alone, and the contract's books at the end.

The full demo (miners and verifiers training digits as separate processes) replaces this once the node
programs exist; this one already shows the chain side working end to end, and cleans up after itself.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from rich.console import Console

from client.inspect import market_state
from client.render import eth, print_state
from node.chain.build import load_artifact
from node.chain.contract import TaskMarket
from node.chain.deploy import deploy_market
from node.chain.devnet import Devnet, dev_accounts
from node.chain.hashing import new_salt
from node.chain.rpc import connect
from node.chain.tx import Signer
from node.chain.types import TaskParams

ETHER = 10**18


def _digest(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def run_demo(console: Console, workdir: Path) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    artifact = load_artifact()
    with Devnet(accounts=10, log_path=workdir / "anvil.log") as devnet:
        w3 = connect(devnet.rpc_url)
        accounts = dev_accounts(6)
        deployment = deploy_market(Signer(w3, accounts[0]), artifact, unbonding_delay_s=600)
        console.print(f"devnet {devnet.rpc_url}, TaskMarket at {deployment.address} (block {deployment.block_number})")

        def market(i: int) -> TaskMarket:
            return TaskMarket.for_account(w3, deployment.address, artifact, accounts[i])

        owner, miner, verifiers = market(1), market(2), [market(i) for i in (3, 4, 5)]
        for node in (miner, *verifiers):
            node.stake(2 * ETHER)
        params = TaskParams(
            _digest("sample spec"), _digest("sample dataset"), _digest("sample initial model"),
            1, 2, 3, 600, 600, 600, ETHER // 10, ETHER // 20, ETHER // 100, ETHER // 20, ETHER // 50,
        )  # fmt: skip
        task_id, _ = owner.create_task(params)
        console.print(f"task {task_id} created, budget {eth(params.budget)} escrowed")
        miner.claim_unit(task_id, 0, 0)
        miner.submit_result(task_id, 0, 0, _digest("sample result"), _digest("sample model"))
        salts = [new_salt() for _ in verifiers]
        for v, salt in zip(verifiers, salts, strict=True):
            v.commit_vote_for(task_id, 0, 0, True, salt)
        for v, salt in zip(verifiers, salts, strict=True):
            v.reveal_vote(task_id, 0, 0, True, salt)
        unit = owner.get_unit(task_id, 0, 0)
        console.print(f"unit 0 of round 0: {unit.status.name.lower()} ({unit.valid_votes}/3 valid votes)")
        print_state(console, market_state(owner, deployment.block_number))
