"""The views over plain JSON-RPC answer exactly what the web3 client answers, reverts included."""

from __future__ import annotations

import pytest

from node.chain.jsonrpc import JsonRpc
from node.chain.reverts import TaskMarketUnknownTask
from node.chain.views import RpcViews
from node.errors import ChainUnreachable
from testkit.chain import Chain
from tests.integration.chain.helpers import params, submit

pytestmark = pytest.mark.chain


def test_rpc_views_answer_what_web3_answers(chain: Chain) -> None:
    owner, miner = chain.market(chain.accounts[1]), chain.market(chain.accounts[2])
    miner.stake(10**18)
    task_id, _ = owner.create_task(params(rounds=1, units=2, quorum=1))
    miner.claim_unit(task_id, 0, 0)
    submit(miner, task_id, 0, 0)
    web3_views = chain.market()
    rpc = JsonRpc(chain.rpc_url)
    plain = RpcViews(rpc, chain.deployment.address, chain.artifact.abi)

    assert rpc.chain_id() == chain.deployment.chain_id
    assert rpc.code_at(chain.deployment.address), "the contract's code"
    assert plain.task_count() == web3_views.task_count() == task_id
    assert plain.get_task(task_id) == web3_views.get_task(task_id)
    assert plain.get_units(task_id, 0) == web3_views.get_units(task_id, 0)
    head = int(rpc.request("eth_blockNumber"), 16)
    assert plain.get_unit(task_id, 0, 0, block=head) == web3_views.get_unit(task_id, 0, 0, block=head)
    who = miner.signer.address
    assert plain.stake_of(who) == web3_views.stake_of(who)
    assert plain.credit_of(who) == web3_views.credit_of(who)
    assert plain.total_owed() == web3_views.total_owed()
    assert plain.balance() == web3_views.balance() > 0
    assert plain.verifier_pool() == web3_views.verifier_pool()
    with pytest.raises(TaskMarketUnknownTask) as plain_err:
        plain.get_task(task_id + 1)
    with pytest.raises(TaskMarketUnknownTask) as web3_err:
        web3_views.get_task(task_id + 1)
    assert plain_err.value.args == web3_err.value.args


def test_an_unanswering_endpoint_is_the_unreachable_chain() -> None:
    from node.chain.devnet import free_port

    with pytest.raises(ChainUnreachable) as err:
        JsonRpc(f"http://127.0.0.1:{free_port()}", timeout_s=2).chain_id()
    assert err.value.exit_code == 11
