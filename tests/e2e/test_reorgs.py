"""Reorganisations in every phase of a unit, with nodes running (issue 27): a real Anvil replaces its last 1–5
blocks (`anvil_reorg`, the dropped transactions gone from the chain) right after each phase is first seen — a
claim, a submission, a draw, a commit, a reveal, a verdict, an acceptance, for a training unit and for the
aggregation unit. Every task still completes, the money balances to the wei, nobody honest is slashed, and no
unit is submitted or voted on twice.

The nodes recover on their own: the signer sends again what the chain forgot (same bytes, same nonce), the
ballots re-send a commit or reveal a reorganisation undid with the salt on disk, the event cursor notices that the
block under it was replaced and reads the last blocks again, and the roles act on what the chain says now."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.audit.audit import audit_task
from node.chain.events import EventReader
from node.daemon import Daemon
from node.ml.defaults import digits_spec
from node.store.client import StoreClient
from testkit.chain import Chain
from testkit.servers import store_server
from tests.e2e.inprocess import drive, short_task
from tests.e2e.ledger import Ledger
from tests.integration.client.driver import node

pytestmark = [pytest.mark.chain, pytest.mark.slow]

UNITS, ROUNDS = 2, 2
CONFIRMED = 3  # the nodes' --confirmations in the second run: reorganisations 1-3 deep stay above their view
SPEC = digits_spec(dataset_digest="0x" + "00" * 32, shards=UNITS, local_steps=40, checkpoint_every=10, hidden=16)
# The phases of a unit, by the event that shows it was reached.
PHASES = (
    "UnitClaimed", "ResultSubmitted", "VerifierDrawn", "VoteCommitted", "VoteRevealed", "VerdictReached",
    "UnitAccepted",
)  # fmt: skip


@pytest.fixture
def store_url(tmp_path: Path) -> Iterator[str]:
    with store_server(tmp_path / "store", max_bytes=1 << 30) as (url, _):
        yield url


class Reorganiser:
    """Before each pass of the nodes: the first time a phase shows in the chain's events (for a training unit,
    and for the aggregation unit), the chain's last blocks are replaced by empty ones, 1 to 5 deep in turn."""

    def __init__(self, chain: Chain, task_id: int, start: int) -> None:
        self.chain = chain
        self.task_id = task_id
        self.reader = EventReader(chain.w3, chain.deployment.address, chain.artifact.abi)
        self.start = start
        self.done: list[tuple[str, bool, int]] = []

    def __call__(self) -> None:
        head = self.chain.w3.eth.block_number
        for event in self.reader.read(self.start, head):
            if event.name not in PHASES or int(event.args.get("taskId", -1)) != self.task_id:
                continue
            aggregation = int(event.args["index"]) == UNITS
            if any((event.name, aggregation) == (name, agg) for name, agg, _ in self.done):
                continue
            depth = len(self.done) % 5 + 1
            self.chain.w3.provider.make_request("anvil_reorg", [depth, []])  # type: ignore[arg-type]
            self.done.append((event.name, aggregation, depth))
            return  # one reorganisation per pass: the nodes see it before the next


@pytest.mark.parametrize("confirmations", [0, CONFIRMED])
def test_reorganisations_in_every_phase_leave_every_task_complete_and_every_wei_in_place(
    chain: Chain, tmp_path: Path, store_url: str, confirmations: int
) -> None:
    """At ``--confirmations 0`` (a devnet's default) every reorganisation is under the nodes' cursors; at 3 the nodes
    act on blocks 3 under the head, so only the 4- and 5-block ones reach what they read (their own transactions,
    mined at the head, are followed there and sent again all the same)."""
    owner = chain.market(chain.accounts[1])
    start = chain.w3.eth.block_number
    task_id = short_task(chain, store_url, SPEC, rounds=ROUNDS)
    params = owner.get_task(task_id).params
    setting = {"confirmations": str(confirmations)}
    daemons: list[Daemon] = [
        node(chain, tmp_path, store_url, "miner-2", 2, ["miner"], **setting)[1],
        node(chain, tmp_path, store_url, "miner-3", 3, ["miner", "aggregator"], **setting)[1],
    ]
    daemons += [
        node(chain, tmp_path, store_url, f"verifier-{a}", a, ["verifier", "keeper"], **setting)[1] for a in (4, 5, 6)
    ]
    assert {d.s.confirmations.depth for d in daemons} == {confirmations}
    reorganise = Reorganiser(chain, task_id, start)
    # Per reorganisation depth: how many times a node found the block under its event cursor replaced in the pass
    # after it (one reorganisation per pass at most).
    noticed: Counter[int] = Counter()
    counted = [0.0]

    def cursor_changes() -> float:
        return sum(d.s.metrics.reorgs_seen._value.get() for d in daemons)

    def first() -> None:
        if reorganise.done:
            noticed[reorganise.done[-1][2]] += int(cursor_changes() - counted[0])
        counted[0] = cursor_changes()
        reorganise()

    drive(chain, task_id, daemons, first=first)

    if confirmations == 0:
        assert sum(noticed.values()) > 0, "the nodes act on the head: reorganisations reach their cursors"
    else:
        shallow = {depth: noticed[depth] for depth in range(1, confirmations + 1)}
        assert set(shallow.values()) == {0}, f"a reorganisation above the view reached a cursor: {shallow}"

    seen = {(name, aggregation) for name, aggregation, _ in reorganise.done}
    assert seen == {(name, aggregation) for name in PHASES for aggregation in (False, True)}, "every phase"
    assert {depth for _, _, depth in reorganise.done} == {1, 2, 3, 4, 5}

    reader = EventReader(chain.w3, chain.deployment.address, chain.artifact.abi)
    events = reader.read(start, reader.head())
    ledger = Ledger.of(events, task_id, params.units_per_round)
    assert not ledger.rejected, "nothing honest rejected"
    assert not ledger.expired, "nothing honest expired"
    assert sum(ledger.slashed.values()) == 0, "nobody honest slashed"
    assert len(ledger.accepted) == ROUNDS * (UNITS + 1)
    # Never twice: one submission per unit, one commitment per verifier and unit epoch.
    submissions = Counter((int(e.args["round"]), int(e.args["index"])) for e in events if e.name == "ResultSubmitted")
    assert set(submissions.values()) == {1}, submissions
    commits = Counter(
        (int(e.args["round"]), int(e.args["index"]), int(e.args["epoch"]), e.args["verifier"])
        for e in events
        if e.name == "VoteCommitted"
    )
    assert set(commits.values()) == {1}, commits
    report = audit_task(owner, StoreClient.from_endpoints([store_url]), task_id, from_block=start)
    assert report.ok, report.findings
    assert report.money["budget"] + report.money["slashed_in"] == report.money["credited"]
    assert owner.balance() == owner.total_owed()
