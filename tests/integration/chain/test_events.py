"""Event decoding from a cursor in bounded chunks."""

from __future__ import annotations

import pytest

from node.chain.events import EventReader
from testkit.chain import Chain
from tests.integration.chain.helpers import ETHER, Voter, params, submit, vote

pytestmark = pytest.mark.chain


def test_events_are_decoded_in_chain_order_whatever_the_chunk_size(chain: Chain) -> None:
    owner = chain.market(chain.accounts[1])
    miner = chain.market(chain.accounts[2])
    voter = Voter(chain.market(chain.accounts[3]), {})
    start = chain.w3.eth.block_number + 1
    miner.stake(ETHER)
    voter.market.stake(ETHER)
    voter.market.join_verifier_pool()
    task_id, _ = owner.create_task(params(rounds=1, units=1, quorum=1))
    miner.claim_unit(task_id, 0, 0)
    submit(miner, task_id, 0, 0)
    vote([voter], task_id, 0, 0, True)
    head = chain.w3.eth.block_number

    whole = EventReader(chain.w3, owner.address, chain.artifact.abi, chunk_blocks=10_000).read(start, head)
    names = [e.name for e in whole]
    assert names == [
        "StakeDeposited",
        "StakeDeposited",
        "VerifierJoined",
        "TaskCreated",
        "UnitClaimed",
        "ResultSubmitted",
        "VerifierDrawn",
        "QuorumDrawn",
        "VoteCommitted",
        "RevealOpened",
        "VoteRevealed",
        "VerdictReached",
        "Credited",
        "Credited",
        "UnitAccepted",
    ]
    assert whole == EventReader(chain.w3, owner.address, chain.artifact.abi, chunk_blocks=1).read(start, head)
    assert [e.key for e in whole] == sorted(e.key for e in whole)
    created = whole[3]
    assert created.args["taskId"] == task_id
    assert created.args["owner"] == owner.signer.address
    assert created.args["budget"] == params(rounds=1, units=1, quorum=1).budget
    accepted = whole[-1]
    assert accepted.args["miner"] == miner.signer.address
    assert accepted.args["validVotes"] == 1


def test_chunk_size_must_be_positive(chain: Chain) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        EventReader(chain.w3, chain.deployment.address, chain.artifact.abi, chunk_blocks=0)
