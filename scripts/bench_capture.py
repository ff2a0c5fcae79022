"""The judges' capture attack of issue 29 on a real chain, measured against its bound.

An attacker (testkit.capture) holds a share s of the verifier pool's weight, in one account or split over many of
about a vote bond each, a purse outside the pool for its challenge bonds, and decoy tasks of its own. It submits
junk for every unit of a task, draws its decoys' quorums right before its own, votes "valid" on its junk, stays
away from appeals it did not bring and appeals every rejection of its junk up the ladder. Honest verifiers (the
rest of the pool) vote "invalid" on junk (its bytes exist nowhere, as honest nodes judge it after their retries)
and appeal every acceptance. Each unit's first settlement is counted: junk made final, or rejected.

Reported: the junk-final rate against the bound (the last level's binomial tail at s: the attacker can always
force the ladder to the top), and the attacker's net gain in wei (stake and credit of all its accounts, after
minus before: its slashed bonds, lost challenges and decoy budgets against what it was paid).

    python -m scripts.bench_capture [--units 32] [--quorum 1] [--share 0.2] [--accounts 1 20]
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Callable
from math import comb

from eth_account.signers.local import LocalAccount

from node.chain.build import ensure_artifact
from node.chain.contract import TaskMarket
from node.chain.deploy import deploy_market
from node.chain.devnet import Devnet, dev_accounts
from node.chain.events import EventReader
from node.chain.hashing import new_salt
from node.chain.rpc import connect
from node.chain.tx import Signer
from node.chain.types import MAX_APPEAL_LEVEL, TaskParams, UnitStatus, seats_at
from node.errors import ContractRevert
from scripts.benchlib import emit, print_table
from testkit.capture import CaptureAttacker, decoy_params

ETHER = 10**18
VOTE_BOND = ETHER // 25
HONEST = 5
HONEST_EACH = 40 * VOTE_BOND
TIMEOUT_S = 60
WINDOW_S = 30


def binomial_majority(seats: int, share: float) -> float:
    return sum(comb(seats, k) * share**k * (1 - share) ** (seats - k) for k in range(seats // 2 + 1, seats + 1))


class HonestSide:
    """Honest verifiers with raw calls: "invalid" on junk, commit and reveal, and appeal every acceptance."""

    def __init__(self, voters: list[TaskMarket], purse: TaskMarket, task_id: int) -> None:
        self.voters, self.purse, self.task_id = voters, purse, task_id
        self.salts: dict[tuple[str, int, int], bytes] = {}

    def step(self, settled: set[int]) -> None:
        for index, unit in enumerate(self.voters[0].get_units(self.task_id, 0)):
            if index in settled:
                continue
            now = int(self.voters[0].w3.eth.get_block("latest")["timestamp"])
            if unit.status in (UnitStatus.SUBMITTED, UnitStatus.REVEALING, UnitStatus.DECIDED) and unit.deadline < now:
                _try(lambda i=index: self.voters[0].finalize_unit(self.task_id, 0, i))  # type: ignore[misc]
                continue
            if unit.status is UnitStatus.SUBMITTED:
                _try(lambda i=index: self.voters[0].draw_verifiers(self.task_id, 0, i))  # type: ignore[misc]
                for v in self.voters:
                    ballot = v.get_ballot(self.task_id, 0, index, v.signer.address)
                    if ballot.seats and not ballot.committed:
                        salt = self.salts.setdefault((v.signer.address, index, unit.epoch), new_salt())
                        _try(lambda v=v, i=index, s=salt: v.commit_vote_for(self.task_id, 0, i, False, s))  # type: ignore[misc]
            elif unit.status is UnitStatus.REVEALING:
                for v in self.voters:
                    ballot = v.get_ballot(self.task_id, 0, index, v.signer.address)
                    kept = self.salts.get((v.signer.address, index, unit.epoch))
                    if kept is not None and ballot.committed and not ballot.revealed:
                        _try(lambda v=v, i=index, s=kept: v.reveal_vote(self.task_id, 0, i, False, s))  # type: ignore[misc]
            elif unit.status is UnitStatus.DECIDED and unit.verdict and unit.level < MAX_APPEAL_LEVEL:
                _try(lambda i=index: self.purse.challenge_verdict(self.task_id, 0, i))  # type: ignore[misc]


def _try(send: Callable[[], object]) -> bool:
    try:
        send()
    except ContractRevert:
        return False
    return True


def run(units: int, quorum: int, share: float, accounts: int) -> dict[str, float | int]:
    artifact = ensure_artifact()
    n = 4 + HONEST + accounts
    with Devnet(accounts=n) as devnet:
        w3 = connect(devnet.rpc_url)
        keys: list[LocalAccount] = dev_accounts(n)
        deployment = deploy_market(Signer(w3, keys[0]), artifact, unbonding_delay_s=7 * 24 * 3600)

        def market(a: LocalAccount) -> TaskMarket:
            return TaskMarket.for_account(w3, deployment.address, artifact, a)

        owner, miner, purse, honest_purse = (market(k) for k in keys[:4])
        honest = [market(k) for k in keys[4 : 4 + HONEST]]
        voters = [market(k) for k in keys[4 + HONEST :]]
        for v in honest:
            v.stake(HONEST_EACH)
            v.join_verifier_pool()
        attacker_total = int(HONEST * HONEST_EACH * share / (1 - share))
        for v in voters:
            v.stake(attacker_total // accounts)
            v.join_verifier_pool()
        miner.stake(100 * ETHER)
        purse.stake(1_000 * ETHER)
        honest_purse.stake(1_000 * ETHER)
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        params = TaskParams(
            hashlib.sha256(b"spec").digest(), hashlib.sha256(b"data").digest(), hashlib.sha256(b"m0").digest(),
            1, units, quorum, TIMEOUT_S * 100, TIMEOUT_S, TIMEOUT_S,
            ETHER // 10, ETHER // 20, ETHER // 100, ETHER // 20, VOTE_BOND, WINDOW_S,
        )  # fmt: skip
        task_id, _ = owner.create_task(params)
        decoys = [purse.create_task(decoy_params(HONEST_EACH, timeouts_s=TIMEOUT_S))[0] for _ in range(3)]
        attacker = CaptureAttacker(miner, voters, purse, task_id, decoys=decoys)
        wealth_before = _wealth(owner, attacker.accounts)
        honest_side = HonestSide(honest, honest_purse, task_id)
        reader = EventReader(w3, deployment.address, artifact.abi)
        start = reader.head()
        outcome: dict[int, str] = {}
        for _ in range(20_000):
            before = w3.eth.block_number
            attacker.step()
            honest_side.step(set(outcome))
            for e in reader.read(start, reader.head()):
                if e.args.get("taskId") == task_id and e.name in ("UnitAccepted", "UnitRejected"):
                    outcome.setdefault(int(e.args["index"]), e.name)
            start = reader.head() + 1
            if len([i for i in outcome if i < units]) == units:
                break
            if w3.eth.block_number == before:
                w3.provider.make_request("evm_increaseTime", [10])  # type: ignore[arg-type]
                w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        wealth_after = _wealth(owner, attacker.accounts)
        junk_final = sum(1 for i, name in outcome.items() if i < units and name == "UnitAccepted")
        settled = sum(1 for i in outcome if i < units)
    bound = binomial_majority(seats_at(quorum, MAX_APPEAL_LEVEL), share)
    return {
        "units": settled,
        "junk_final": junk_final,
        "junk_final_rate": junk_final / max(settled, 1),
        "bound": bound,
        "attacker_gain_wei": wealth_after - wealth_before,
        "challenges": attacker.challenges,
        "decoy_draws": attacker.decoys_drawn,
        "no_show_passes": attacker.no_shows,
    }


def _wealth(market: TaskMarket, accounts: list[str]) -> int:
    return sum(market.stake_of(a).total + market.credit_of(a) for a in accounts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=32, help="junk units per run (default 32)")
    parser.add_argument("--quorum", type=int, default=1, help="the task's quorum (default 1: 31 seats at the top)")
    parser.add_argument("--share", type=float, default=0.2, help="the attacker's share of the pool (default 0.2)")
    parser.add_argument("--accounts", type=int, nargs="+", default=[1, 20], help="splits of its stake")
    args = parser.parse_args()
    runs = {k: run(args.units, args.quorum, args.share, k) for k in args.accounts}
    print_table(
        ["attacker accounts", "junk units settled", "junk final", "rate", "bound (last level)", "attacker gain (ETH)",
         "its challenges", "decoy draws"],
        [(k, r["units"], r["junk_final"], r["junk_final_rate"], f"{r['bound']:.2g}", r["attacker_gain_wei"] / ETHER,
          r["challenges"], r["decoy_draws"]) for k, r in runs.items()],
    )  # fmt: skip
    emit(
        "bench_capture",
        {
            "share": args.share,
            "quorum": args.quorum,
            "junk_final_rate_bound": runs[args.accounts[0]]["bound"],
            **{f"junk_final_rate_{k}_accounts": r["junk_final_rate"] for k, r in runs.items()},
            **{f"attacker_gain_wei_{k}_accounts": r["attacker_gain_wei"] for k, r in runs.items()},
            **{f"units_{k}_accounts": r["units"] for k, r in runs.items()},
        },
    )


if __name__ == "__main__":
    main()
