"""Gas of every TaskMarket call, and of one accepted unit's whole life at quorum 1 and 3, unbatched and batched.

A unit's life is claim + submit + the quorum's draw + one commit and one reveal per verifier drawn (the last reveal
decides; with no challenge window the verdict settles at once), plus its share (1/U) of the round's aggregation
unit (claimed and submitted in one call). Five verifiers of equal stake are in the pool; a verifier drawn into
several seats commits and reveals once for all of them, so a quorum of 3 costs fewer than 3 commits when seats
repeat. Batched, every phase takes the round's U training units in one call (each verifier's votes on them in one
commit and one reveal), so a unit pays 1/U of each call's 21,000 base and fixed costs. Figures are the mean over
the rounds after the first, once every account already has stake and credit slots and every unit its slots (the
steady state of a running network): which verifiers the draws seat, and so how many commits and reveals a batch
takes, changes from round to round, and one round alone moves the figure by a few thousand gas. The first round's
figures are printed too.

The same four tasks run again on Anvil at Shanghai with the contracts' Shanghai build (chains before Cancun:
Ganache 7), and the two builds' gas per accepted unit are set side by side.

Then gas as users pay it: the whole network of ``dml demo`` (node processes, a store, Anvil) run twice, in the
demo's configuration (2 miners, 3 verifiers, 3 rounds × 4 units, quorum 3) and in the README tour's (a miner that
aggregates, a verifier, 2 rounds × 2 units, quorum 1), each with the nodes' default batching: every transaction the
run sent (stakes and the pool's joins included) over its accepted units (the aggregation units included).

    python -m scripts.bench_gas [--units 64] [--rounds 4] [--demo-local-steps N]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from eth_account.signers.local import LocalAccount
from rich.console import Console

from client.demo import DemoConfig, run_demo
from node.chain.build import Artifact, ensure_artifact
from node.chain.contract import TaskMarket
from node.chain.deploy import deploy_market
from node.chain.devnet import Devnet, dev_accounts
from node.chain.hashing import new_salt
from node.chain.rpc import connect
from node.chain.tx import SentTransaction, Signer
from node.chain.types import TaskParams
from scripts.benchlib import emit, print_table

ETHER = 10**18


def _digest(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def run_task(
    markets: dict[str, TaskMarket], verifiers: list[TaskMarket], units: int, quorum: int, batch: int, rounds: int
) -> dict[int, dict[str, list[int]]]:
    """Runs a task to completion; returns gas by round, by call label (aggregation calls prefixed 'agg ').

    Each phase goes over the round's training units ``batch`` at a time: the miner claims and submits a batch in one
    call each, the quorums are drawn a batch per call, and each verifier commits and reveals, in one call each, its
    votes on the batch's units it was drawn for. The aggregation unit is claimed and submitted in one call
    (claimAndSubmit, as aggregator nodes do), then voted on as a batch of one.
    """
    owner, miner = markets["owner"], markets["miner"]
    params = TaskParams(
        _digest("spec"), _digest("data"), _digest("m0"), rounds, units, quorum, 600, 600, 600,
        ETHER, ETHER // 2, ETHER // 100, ETHER // 10, ETHER // 10, 0,
    )  # fmt: skip
    task_id, created = owner.create_task(params)
    gas: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    gas[0]["createTask"].append(created.gas_used)
    by_address = {v.signer.address.lower(): v for v in verifiers}
    for round_ in range(rounds):
        training = list(range(units))
        groups = [training[i : i + batch] for i in range(0, units, batch)] + [[units]]
        for group in groups:
            prefix = "agg " if group == [units] else ""
            g = gas[round_]

            def record(label: str, sent: SentTransaction, g: dict[str, list[int]] = g, prefix: str = prefix) -> None:
                g[prefix + label].append(sent.gas_used)

            if prefix:  # the aggregator's one call, as nodes send it
                digests = _digest(f"r{round_}{units}"), _digest(f"m{round_}{units}")
                record("claimAndSubmit", miner.claim_and_submit(task_id, round_, units, *digests))
            else:
                record("claimUnits", miner.claim_units(task_id, round_, group))
                record(
                    "submitResults",
                    miner.submit_results(
                        task_id, round_, [(i, _digest(f"r{round_}{i}"), _digest(f"m{round_}{i}")) for i in group]
                    ),
                )
            record(f"drawVerifiers (q={quorum})", owner.draw_quorums(task_id, round_, group))
            # Each verifier's votes on this batch, one salt per unit (see commitVotes).
            ballots: dict[str, list[tuple[int, bool, bytes]]] = defaultdict(list)
            for index in group:
                for address in dict.fromkeys(a.lower() for a in owner.get_seats(task_id, round_, index)):
                    ballots[address].append((index, True, new_salt()))
            for address, votes in ballots.items():
                record("commitVotes", by_address[address].commit_votes_for(task_id, round_, votes))
            for address, votes in ballots.items():
                record("revealVotes", by_address[address].reveal_votes(task_id, round_, votes))
    return gas


def unit_life(g: dict[str, list[int]], units: int) -> int:
    training = sum(statistics.mean(v) * len(v) for k, v in g.items() if not k.startswith("agg ")) / units
    aggregation = sum(sum(v) for k, v in g.items() if k.startswith("agg "))
    return round(training + aggregation / units)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--units", type=int, default=64, help="training units per round, each phase's batch (default 64)"
    )
    parser.add_argument("--rounds", type=int, default=4, help="rounds per task, the first one cold (default 4)")
    parser.add_argument(
        "--demo-local-steps", type=int, default=0, help="steps per unit of the two networks (0: the demo's own)"
    )
    args = parser.parse_args()
    if args.rounds < 2:
        parser.error("--rounds must be at least 2: the first round is not the steady state")
    artifact = ensure_artifact()
    results, stake_gas, join_gas, withdraw_gas = per_call(artifact, args.units, args.rounds, hardfork=None)
    # The same task on a chain before Cancun, with the build it runs (no transient storage: every draw searches the
    # pool's history afresh, and the reentrancy guard writes storage).
    shanghai, *_ = per_call(artifact, args.units, args.rounds, hardfork="shanghai")
    batches = _batches(args.units)

    steady = range(1, args.rounds)
    rows: list[tuple[int | str, int | str, str, int, str]] = []
    for (q, b), by_round in results.items():
        calls: dict[str, list[int]] = defaultdict(list)
        for r in steady:
            for label, values in by_round[r].items():
                calls[label] += values
        for label, values in sorted(calls.items()):
            rows.append((q, b, label, round(statistics.mean(values)), f"{len(values) / len(steady):g}"))
    rows.append(("-", "-", f"createTask ({args.rounds} rounds)", results[(3, 1)][0]["createTask"][0], "1"))
    rows.append(("-", "-", "stake (first)", stake_gas, "1"))
    rows.append(("-", "-", "joinVerifierPool", join_gas, "1"))
    rows.append(("-", "-", "withdraw", withdraw_gas, "1"))
    print(f"Gas per call, steady state (rounds 2 to {args.rounds}, U={args.units})")
    print_table(["quorum", "batch", "call", "gas (mean)", "calls per round"], rows)
    print()
    life = {
        key: round(statistics.mean(unit_life(by_round[r], args.units) for r in steady))
        for key, by_round in results.items()
    }
    first = {
        key: unit_life({k: v for k, v in by_round[0].items() if k != "createTask"}, args.units)
        for key, by_round in results.items()
    }
    print_table(
        ["quorum", "batch", "units per round", "gas per accepted unit (steady)", "first round (cold slots)"],
        [(q, b, args.units, life[(q, b)], first[(q, b)]) for q in (1, 3) for b in batches],
    )
    life_shanghai = {
        key: round(statistics.mean(unit_life(by_round[r], args.units) for r in steady))
        for key, by_round in shanghai.items()
    }
    print()
    print_table(
        ["quorum", "batch", "gas per accepted unit: Cancun build", "Shanghai build (no transient storage)", "ratio"],
        [
            (q, b, life[(q, b)], life_shanghai[(q, b)], f"{life_shanghai[(q, b)] / life[(q, b)]:.3f}")
            for q in (1, 3)
            for b in batches
        ],
    )
    demo = as_users_pay(DemoConfig(miners=2, verifiers=3, units=4, rounds=3, quorum=3), args.demo_local_steps)
    tour = as_users_pay(DemoConfig(miners=1, verifiers=1, units=2, rounds=2, quorum=1), args.demo_local_steps)
    print()
    print_table(
        ["network as users run it", "units accepted", "gas (every transaction)", "gas per accepted unit"],
        [(name, r["accepted"], r["gas"], r["per_unit"]) for name, r in (("dml demo (3 × 4, q3)", demo),
                                                                         ("README tour (2 × 2, q1)", tour))],
    )  # fmt: skip
    batch = args.units
    emit(
        "gas",
        {
            "gas_per_accepted_unit_q1": life[(1, batch)],
            "gas_per_accepted_unit_q3": life[(3, batch)],
            "gas_per_accepted_unit_q1_first_round": first[(1, batch)],
            "gas_per_accepted_unit_q3_first_round": first[(3, batch)],
            "gas_per_accepted_unit_q1_unbatched": life[(1, 1)],
            "gas_per_accepted_unit_q3_unbatched": life[(3, 1)],
            "shanghai_gas_per_accepted_unit_q1": life_shanghai[(1, batch)],
            "shanghai_gas_per_accepted_unit_q3": life_shanghai[(3, batch)],
            "shanghai_gas_per_accepted_unit_q1_unbatched": life_shanghai[(1, 1)],
            "shanghai_gas_per_accepted_unit_q3_unbatched": life_shanghai[(3, 1)],
            "batch_size": batch,
            "units_per_round": args.units,
            "steady_rounds": len(steady),
            "demo_gas_per_accepted_unit": demo["per_unit"],
            "demo_gas": demo["gas"],
            "demo_units_accepted": demo["accepted"],
            "tour_gas_per_accepted_unit": tour["per_unit"],
            "tour_gas": tour["gas"],
            "tour_units_accepted": tour["accepted"],
            "goal_q1": 150_000,
            "goal_q3": 300_000,
        },
    )


def _batches(units: int) -> tuple[int, ...]:
    """Unbatched, and the whole round in one call (one task when the round has one unit)."""
    return tuple(dict.fromkeys((1, units)))


def per_call(
    artifact: Artifact, units: int, rounds: int, *, hardfork: str | None
) -> tuple[dict[tuple[int, int], dict[int, dict[str, list[int]]]], int, int, int]:
    """The four tasks (quorum 1 and 3, unbatched and batched) on a fresh Anvil at ``hardfork`` (its newest: None)
    with the build that chain runs; their gas by round and call, and the gas of a stake, a join and a withdrawal."""
    with Devnet(accounts=10, hardfork=hardfork) as devnet:
        w3 = connect(devnet.rpc_url)
        accounts: list[LocalAccount] = dev_accounts(10)
        deployment = deploy_market(Signer(w3, accounts[0]), artifact, unbonding_delay_s=4 * 3600)

        def market(a: LocalAccount) -> TaskMarket:
            return TaskMarket.for_account(w3, deployment.address, artifact, a)

        markets = {"owner": market(accounts[1]), "miner": market(accounts[2])}
        verifiers = [market(a) for a in accounts[3:8]]
        stake_gas = markets["miner"].stake(100 * ETHER).gas_used
        join_gas = 0
        for v in verifiers:
            v.stake(100 * ETHER)
            join_gas = v.join_verifier_pool().gas_used
        results = {(q, b): run_task(markets, verifiers, units, q, b, rounds) for q in (1, 3) for b in _batches(units)}
        markets["miner"].request_unstake(ETHER)
        withdraw_gas = 0
        credit = markets["miner"].credit_of(markets["miner"].signer.address)
        if credit:
            withdraw_gas = markets["miner"].withdraw().gas_used
    return results, stake_gas, join_gas, withdraw_gas


def as_users_pay(config: DemoConfig, local_steps: int) -> dict[str, int]:
    """One whole network run as ``dml demo`` runs it (its progress on stderr): the gas of every transaction it sent
    and the units it accepted."""
    config = dataclasses.replace(config, local_steps=local_steps)
    with tempfile.TemporaryDirectory(prefix="bench-gas-demo-") as folder:
        result = run_demo(Console(file=sys.stderr), Path(folder) / "demo", config)
    if result.rejected:
        raise SystemExit(f"an honest network rejected {result.rejected} result(s)")
    return {"gas": result.gas_used, "accepted": result.accepted, "per_unit": round(result.gas_used / result.accepted)}


if __name__ == "__main__":
    main()
