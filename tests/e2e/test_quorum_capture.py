"""The attack behind drawn quorums, on a real chain: a miner submits digests of bytes that exist nowhere, and its
own verifier accounts, 20% of the verifier stake over 5 accounts, race to draw and commit in the very next blocks:
"valid" on its junk, "invalid" on everyone else's. Before quorums were drawn, the first committers sat, and the
junk was paid and became the final model.

Against 6 honest verifiers (which also watch verdicts and appeal wrong ones) and 2 honest miners, over a task of
several rounds: no junk result is final, the attacker ends poorer than it started, no honest node is slashed,
and every wei is accounted for.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from client.audit import audit_task
from node.chain.contract import TaskMarket
from node.chain.events import EventReader
from node.chain.hashing import new_salt
from node.chain.types import TaskStatus, UnitStatus, seats_at
from node.daemon import Daemon
from node.errors import ContractRevert
from node.ml.defaults import digits_spec
from node.store.client import StoreClient
from tests.conftest import Chain
from tests.e2e.inprocess import drive, short_task
from tests.e2e.ledger import Ledger
from tests.integration.client.driver import node
from tests.integration.store.servers import store_server

pytestmark = [pytest.mark.chain, pytest.mark.slow]

UNITS, ROUNDS = 3, 3
SPEC = digits_spec(dataset_digest="0x" + "00" * 32, shards=UNITS, local_steps=100, checkpoint_every=20, hidden=32)
HONEST_MINERS, HONEST_VERIFIERS = [2, 3], [4, 5, 6, 7, 8, 9]
ATTACK_MINER, ATTACK_VERIFIERS = 10, [11, 12, 13, 14, 15]


@pytest.fixture
def store_url(tmp_path: Path) -> Iterator[str]:
    with store_server(tmp_path / "store", max_bytes=1 << 30) as (url, _):
        yield url


class Attacker:
    """One owner's miner and verifier accounts, acting as fast as the chain lets them, with raw transactions."""

    def __init__(self, miner: TaskMarket, voters: list[TaskMarket], task_id: int) -> None:
        self.miner = miner
        self.voters = voters
        self.task_id = task_id
        self.votes: dict[tuple[str, int, int, int], tuple[bool, bytes]] = {}  # (voter, round, unit, epoch)
        self.junk: set[bytes] = set()

    def step(self) -> None:
        task = self.miner.get_task(self.task_id)
        if task.state.status is not TaskStatus.ACTIVE:
            return
        r = task.state.current_round
        for index, unit in enumerate(self.miner.get_units(self.task_id, r)):
            if unit.status is UnitStatus.OPEN:
                self._claim_and_submit_junk(r, index)
            elif unit.status is UnitStatus.SUBMITTED:
                if unit.seats < seats_at(task.params.quorum, unit.level):
                    self._try(lambda i=index: self.voters[0].draw_verifiers(self.task_id, r, i))
                ours = unit.miner == self.miner.signer.address
                for voter in self.voters:
                    self._commit(voter, r, index, unit.epoch, valid=ours)
            elif unit.status is UnitStatus.REVEALING:
                for voter in self.voters:
                    self._reveal(voter, r, index, unit.epoch)

    def _claim_and_submit_junk(self, round_: int, index: int) -> None:
        if not self._try(lambda: self.miner.claim_unit(self.task_id, round_, index)):
            return
        result, model = os.urandom(32), os.urandom(32)  # digests of bytes that exist nowhere
        self.junk.add(result)
        self.miner.submit_result(self.task_id, round_, index, result, model)

    def _commit(self, voter: TaskMarket, round_: int, index: int, epoch: int, *, valid: bool) -> None:
        ballot = voter.get_ballot(self.task_id, round_, index, voter.signer.address)
        if ballot.seats == 0 or ballot.committed:
            return
        valid, salt = self.votes.setdefault((voter.signer.address, round_, index, epoch), (valid, new_salt()))
        self._try(lambda: voter.commit_vote_for(self.task_id, round_, index, valid, salt))

    def _reveal(self, voter: TaskMarket, round_: int, index: int, epoch: int) -> None:
        vote = self.votes.get((voter.signer.address, round_, index, epoch))
        if vote is None:
            return
        ballot = voter.get_ballot(self.task_id, round_, index, voter.signer.address)
        if ballot.revealed or not ballot.committed:
            return
        self._try(lambda: voter.reveal_vote(self.task_id, round_, index, *vote))

    @staticmethod
    def _try(send: Callable[[], object]) -> bool:
        try:
            send()
        except ContractRevert:
            return False  # a race lost, a window closed: try again next pass
        return True


def test_a_miner_with_its_own_verifier_accounts_cannot_get_junk_through(
    chain: Chain, tmp_path: Path, store_url: str
) -> None:
    owner = chain.market(chain.accounts[1])
    start = chain.w3.eth.block_number
    task_id = short_task(chain, store_url, SPEC, rounds=ROUNDS)
    params = owner.get_task(task_id).params

    # The honest verifiers stake what their nodes keep free (bonds for a whole last-level appeal each); the
    # attacker a quarter of that over five accounts: 20% of the pool.
    honest_each = params.vote_bond * seats_at(params.quorum, 2)
    daemons: list[Daemon] = []
    for account in HONEST_MINERS:
        roles = ["miner", "aggregator"] if account == HONEST_MINERS[-1] else ["miner"]
        daemons.append(node(chain, tmp_path, store_url, f"miner-{account}", account, roles)[1])
    for account in HONEST_VERIFIERS:
        services, daemon = node(chain, tmp_path, store_url, f"verifier-{account}", account, ["verifier", "keeper"])
        services.market.stake(honest_each)
        services.market.join_verifier_pool()
        daemons.append(daemon)
    voters = [chain.market(chain.accounts[i]) for i in ATTACK_VERIFIERS]
    for voter in voters:
        voter.stake(honest_each * len(HONEST_VERIFIERS) // 4 // len(voters))
        voter.join_verifier_pool()
    miner = chain.market(chain.accounts[ATTACK_MINER])
    miner.stake(20 * params.unit_bond)
    attacker = Attacker(miner, voters, task_id)
    attacker_accounts = [miner.signer.address, *(v.signer.address for v in voters)]
    spent_before = {a: owner.stake_of(a).total for a in attacker_accounts}

    drive(chain, task_id, daemons, first=attacker.step)  # the attacker goes first in every pass: it races

    reader = EventReader(chain.w3, chain.deployment.address, chain.artifact.abi)
    ledger = Ledger.of(reader.read(start, reader.head()), task_id, params.units_per_round)
    print(
        f"junk results {len(attacker.junk)}, challenges {len(ledger.challenges)}, lapsed {len(ledger.lapsed)}, "
        f"attacker slashed {sum(ledger.slashed[a] for a in attacker_accounts)} wei"
    )
    assert attacker.junk, "the attacker got units to submit junk for"
    final_junk = [(a["round"], a["index"]) for a in ledger.accepted if bytes(a["resultDigest"]) in attacker.junk]
    assert not final_junk, (
        f"junk final at (round, unit) {final_junk}; challenges "
        f"{[(c['round'], c['index'], c['level']) for c in ledger.challenges]}, lapsed "
        f"{[(lapse['round'], lapse['index']) for lapse in ledger.lapsed]}"
    )
    assert {bytes(r["resultDigest"]) for r in ledger.rejected} == attacker.junk, "every junk result was rejected"
    assert all(a["miner"] != miner.signer.address for a in ledger.accepted)
    task = owner.get_task(task_id)
    assert task.state.final_model_digest not in {
        bytes(s["modelDigest"]) for s in ledger.submitted if s["miner"] == miner.signer.address
    }

    gained = sum(ledger.credited[a] for a in attacker_accounts) - sum(ledger.slashed[a] for a in attacker_accounts)
    assert gained < 0, f"the attacker's net gain is {gained} wei"
    assert sum(owner.stake_of(a).total for a in attacker_accounts) < sum(spent_before.values())

    honest = [chain.accounts[i].address for i in HONEST_MINERS + HONEST_VERIFIERS]
    for account in honest:
        assert ledger.slashed[account] == 0, f"honest {account} slashed"
        assert owner.stake_of(account).locked == 0
    assert len(ledger.accepted) == ROUNDS * (UNITS + 1)

    report = audit_task(owner, StoreClient.from_endpoints([store_url]), task_id, from_block=start, full=True)
    assert report.ok, report.findings
    assert report.money["budget"] + report.money["slashed_in"] == report.money["credited"]
    assert owner.balance() == owner.total_owed()
