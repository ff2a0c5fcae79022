"""The attacks on the judges, on a real chain with honest nodes: a miner submits digests of bytes that exist
nowhere, and its own verifier accounts, 20% of the verifier stake in one account or split over fifteen, race to
draw and commit in the very next blocks: "valid" on its junk, "invalid" on everyone else's. Before quorums were
drawn, the first committers sat and the junk became the final model. With testkit.capture's attacker it also
challenges every rejection of its junk up the ladder, stays away from appeals it did not bring, and draws decoy
quorums that seat honest verifiers just before its own (issue 29: each once made junk final).

Against 6 honest verifiers (which also watch verdicts and appeal wrong ones) and 2 honest miners, over a task of
several rounds: no junk result is final, the attacker ends poorer than it started, no honest node is slashed,
and every wei is accounted for.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from node.audit.audit import audit_task
from node.chain.events import EventReader
from node.chain.types import seats_at
from node.daemon import Daemon
from node.ml.defaults import digits_spec
from node.store.client import StoreClient
from testkit.capture import CaptureAttacker, decoy_params
from testkit.chain import Chain
from testkit.servers import store_server
from tests.e2e.inprocess import drive, short_task
from tests.e2e.ledger import Ledger, slash_story
from tests.integration.client.driver import node

pytestmark = [pytest.mark.chain, pytest.mark.slow]

UNITS, ROUNDS = 3, 3
SPEC = digits_spec(dataset_digest="0x" + "00" * 32, shards=UNITS, local_steps=100, checkpoint_every=20, hidden=32)
HONEST_MINERS, HONEST_VERIFIERS = [2, 3], [4, 5, 6, 7, 8, 9]
ATTACK_MINER, ATTACK_PURSE, ATTACK_VERIFIERS = 10, 26, list(range(11, 26))


@pytest.fixture
def store_url(tmp_path: Path) -> Iterator[str]:
    with store_server(tmp_path / "store", max_bytes=1 << 30) as (url, _):
        yield url


@pytest.mark.parametrize("accounts", [1, 15], ids=["one-account", "fifteen-accounts"])
def test_a_miner_with_its_own_verifier_accounts_cannot_get_junk_through(
    chain: Chain, tmp_path: Path, store_url: str, accounts: int
) -> None:
    owner = chain.market(chain.accounts[1])
    start = chain.w3.eth.block_number
    task_id = short_task(chain, store_url, SPEC, rounds=ROUNDS)
    params = owner.get_task(task_id).params

    # The honest verifiers stake 15 vote bonds each; the attacker a quarter of that, split: 20% of the pool.
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
    voters = [chain.market(chain.accounts[i]) for i in ATTACK_VERIFIERS[:accounts]]
    for voter in voters:
        voter.stake(honest_each * len(HONEST_VERIFIERS) // 4 // len(voters))
        voter.join_verifier_pool()
    miner = chain.market(chain.accounts[ATTACK_MINER])
    miner.stake(20 * params.unit_bond)
    purse = chain.market(chain.accounts[ATTACK_PURSE])  # its challenge bonds, outside the pool
    purse.stake(100 * 10**18)
    # Decoys of its own whose vote bond is an honest verifier's whole stake: only honest accounts can sit them.
    decoys = [purse.create_task(decoy_params(honest_each))[0] for _ in range(3)]
    attacker = CaptureAttacker(miner, voters, purse, task_id, decoys=decoys)
    attacker_accounts = attacker.accounts
    spent_before = {a: owner.stake_of(a).total for a in attacker_accounts}

    drive(chain, task_id, daemons, first=attacker.step)  # the attacker goes first in every pass: it races

    reader = EventReader(chain.w3, chain.deployment.address, chain.artifact.abi)
    events = reader.read(start, reader.head())
    ledger = Ledger.of(events, task_id, params.units_per_round)
    print(
        f"junk results {len(attacker.junk)}, challenges {len(ledger.challenges)} ({attacker.challenges} its own), "
        f"decoy draws {attacker.decoys_drawn}, appeal passes stayed away {attacker.no_shows}, "
        f"attacker slashed {sum(ledger.slashed[a] for a in attacker_accounts)} wei"
    )
    assert attacker.junk, "the attacker got units to submit junk for"
    assert attacker.decoys_drawn > 0, "the decoys were drawn before its junk"
    assert attacker.challenges > 0, "it appealed the rejections of its junk"
    final_junk = [(a["round"], a["index"]) for a in ledger.accepted if bytes(a["resultDigest"]) in attacker.junk]
    assert not final_junk, (
        f"junk final at (round, unit) {final_junk}; challenges "
        f"{[(c['round'], c['index'], c['level']) for c in ledger.challenges]}"
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
        assert ledger.slashed[account] == 0, f"honest {account} slashed: {slash_story(events, task_id, account)}"
        # What stays locked is the seats the decoys still hold (drawn again at every deadline, never committed:
        # their material exists nowhere), none of the task's.
        on_decoys = sum(owner.get_ballot(d, 0, 0, account).seats for d in decoys) * honest_each
        assert owner.stake_of(account).locked == on_decoys, f"honest {account} locked beyond the decoys' seats"
    assert len(ledger.accepted) == ROUNDS * (UNITS + 1)

    report = audit_task(owner, StoreClient.from_endpoints([store_url]), task_id, from_block=start, full=True)
    assert report.ok, report.findings
    assert report.money["budget"] + report.money["slashed_in"] == report.money["credited"]
    assert owner.balance() == owner.total_owed()
