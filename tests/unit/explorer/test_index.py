from __future__ import annotations

from pathlib import Path

from explorer.index import Index, IndexedBlock
from explorer.queries import Queries
from tests.integration.explorer.helpers import derived
from tests.unit.explorer.events import CHEAT, HUGE, MINER, OWNER, VERIFIERS, as_chain, lifecycle

CHAIN = "31337:genesis:0xmarket:1"


def _indexed(path: Path, *, upto: int | None = None) -> Index:
    events, blocks = as_chain(lifecycle())
    if upto is not None:
        events = [e for e in events if e.block_number <= upto]
        blocks = {n: b for n, b in blocks.items() if n <= upto}
    index = Index.open(path, CHAIN)
    last = max(blocks)
    index.append(events, blocks, [], blocks[last])
    return index


def test_a_task_folds_into_what_the_contract_would_say(tmp_path: Path) -> None:
    q = Queries(_indexed(tmp_path / "x.sqlite"))
    task = q.task(1)
    assert task is not None
    assert (task["status"], task["accepted"], task["rejected"]) == ("completed", 2, 1)
    assert int(task["budget"]) == HUGE + 10**18 + 6 * 10**17
    assert int(task["slashed_in"]) == 10**18
    assert int(task["refunded"]) == 7 * 10**17
    assert int(task["escrow"]) == 0, "budget + slashes = payments + refund, to the wei, beyond 64 bits"
    unit = task["rounds_grid"][0][0]
    assert (unit["status"], unit["miner"], unit["epoch"], unit["rejections"]) == ("accepted", MINER, 2, 1)

    miner = q.account(MINER)
    assert miner is not None
    assert int(miner["credited"]) == HUGE + 10**18
    assert (miner["units_accepted"], miner["aggregates_accepted"], miner["roles"]) == (1, 1, ["miner", "aggregator"])
    cheat = q.account(CHEAT)
    assert cheat is not None
    assert (int(cheat["slashed"]), cheat["units_rejected"]) == (10**18, 1)
    assert [(u["status"], u["result_digest"]) for u in cheat["units"]] == [("rejected", "0x" + "bb" * 32)]
    assert [u["status"] for u in miner["units"]] == ["accepted", "accepted"]
    owner = q.account(OWNER)
    assert owner is not None
    assert int(owner["credited"]) == 0, "a refund is not earnings"
    assert [m["kind"] for m in owner["money"]] == ["refund"]
    for v in VERIFIERS:
        seat = q.account(v)
        assert seat is not None
        assert (seat["seats"], seat["votes_revealed"], int(seat["credited"])) == (3, 3, 3 * 10**17)

    rejected = q.unit(1, 0, 0)
    assert rejected is not None
    names = [h["event"] for h in rejected["history"]]
    assert names.count("UnitRejected") == 1
    assert names.count("UnitAccepted") == 1
    assert {(s["epoch"], s["valid"]) for s in rejected["seats"]} == {(1, 0), (2, 1)}


def test_appending_the_same_events_again_counts_them_once(tmp_path: Path) -> None:
    index = _indexed(tmp_path / "x.sqlite")
    before = derived(index)
    events, blocks = as_chain(lifecycle())
    assert index.append(events, blocks, [], blocks[max(blocks)]) == 0
    assert derived(index) == before


def test_rewinding_folds_the_rest_as_if_the_tail_never_was(tmp_path: Path) -> None:
    whole = _indexed(tmp_path / "whole.sqlite")
    dropped = whole.rewind(20)
    assert dropped > 0
    assert whole.cursor == 20
    assert derived(whole) == derived(_indexed(tmp_path / "part.sqlite", upto=20))


def test_an_index_of_another_chain_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    _indexed(path).close()
    other = Index.open(path, "31337:other-genesis:0xmarket:1")
    assert other.cursor is None
    assert Queries(other).tasks() == []
    assert len(list(tmp_path.glob("x.other-chain-*.sqlite"))) == 1
    other.close()
    assert Index.open(path, "31337:other-genesis:0xmarket:1").block(0) is None


def test_only_blocks_with_events_and_the_last_one_are_kept(tmp_path: Path) -> None:
    index = _indexed(tmp_path / "x.sqlite")
    last = index.cursor
    assert last is not None
    index.append([], {}, [], IndexedBlock(last + 5, "0x" + "ab" * 32, 5_000))
    index.append([], {}, [], IndexedBlock(last + 9, "0x" + "cd" * 32, 5_001))
    assert index.block(last + 5) is None, "an empty cursor block is dropped when the cursor moves on"
    assert index.block(last + 9) is not None
    assert index.block(last) is not None, "a block with events stays (a reorganisation is looked for there)"
