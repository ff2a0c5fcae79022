"""Why a result was rejected, as `dml task show`, `dml audit` and the explorer's task page say it: a noise miner's
result rejected by an honest verifier on a real chain, re-judged from the chain and the store."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from client.cli import app
from client.tasks import Economics, create_task, prepare_task
from explorer.queries import Queries
from explorer.rejections import RejectionExplainer
from node.audit.audit import audit_task
from node.audit.rejections import explain_rejections
from node.ml.data import digits
from node.ml.defaults import digits_spec
from node.store.client import StoreClient
from testkit.chain import Chain
from testkit.polling import wait_until
from tests.integration.client.driver import folder_node
from tests.integration.explorer.helpers import indexer, open_index

pytestmark = pytest.mark.chain


def test_a_rejected_result_is_explained_by_the_check_the_segment_and_the_distance(chain: Chain, tmp_path: Path) -> None:
    store = StoreClient.from_endpoints([str(tmp_path / "store")])
    spec = digits_spec(dataset_digest="0x" + "00" * 32, shards=1, local_steps=8, checkpoint_every=4, hidden=16)
    prepared = prepare_task(store, spec, digits(), Economics(rounds=1, quorum=1, challenge_window_s=0))
    owner = chain.market(chain.accounts[1])
    task_id = create_task(owner, prepared)
    cheater = folder_node(chain, tmp_path, "m", 2, ["cheat-noise"])
    verifier = folder_node(chain, tmp_path, "v", 4, ["verifier", "keeper"])

    def rejected() -> bool:
        for d in (cheater, verifier):
            d.cycle()
        return any(e.name == "UnitRejected" for e in cheater.reader.iter(0, cheater.reader.head()))

    wait_until(rejected, timeout_s=120, what="the noise result's rejection", interval_s=0)
    start = chain.deployment.block_number

    [why] = explain_rejections(owner, store, task_id, from_block=start)
    assert (why.round, why.unit, why.miner) == (0, 0, cheater.s.address)
    assert why.outcome == "invalid"
    assert why.check == "re-execution", why.reason
    assert why.segment == 0, "the anchor segment is the first to be re-executed"
    assert why.distance is not None
    assert why.tolerance is not None
    assert why.distance > why.tolerance
    assert (why.valid_votes, why.invalid_votes) == (0, 1)

    flags = [
        "--rpc",
        chain.rpc_url,
        "--deployment",
        str(tmp_path / "deployment.json"),
        "--store",
        str(tmp_path / "store"),
    ]
    out = CliRunner().invoke(app, ["task", "show", str(task_id), "--no-accuracy", *flags], terminal_width=200)
    assert out.exit_code == 0, (out.output, out.exception)
    assert "why rejected" in out.output
    assert "re-execution" in out.output
    assert f"distance {why.distance:.3g} > tolerance" in out.output
    quiet = CliRunner().invoke(app, ["task", "show", str(task_id), "--no-accuracy", "--no-why", *flags])
    assert "why rejected" not in quiet.output

    report = audit_task(owner, store, task_id, from_block=start)
    assert [r["check"] for r in report.rejections] == ["re-execution"]
    assert not [f for f in report.findings if f.kind == "wrong rejection"], "the rejection was right"

    index = open_index(chain, tmp_path / "explorer.sqlite")
    indexer(chain, index).catch_up()
    explainer = RejectionExplainer(
        index, lambda t, known: explain_rejections(owner, store, t, from_block=start, skip=known)
    )
    assert explainer.explain_pending() == 1
    assert explainer.explain_pending() == 0, "each rejection is re-judged once"
    task = Queries(index).task(task_id)
    assert task is not None
    [shown] = task["rejections"]
    assert (shown["round"], shown["idx"], shown["miner"]) == (0, 0, cheater.s.address)
    assert (shown["check_name"], shown["segment"]) == ("re-execution", 0)
    assert shown["distance"] == pytest.approx(why.distance)
    index.close()
    for d in (cheater, verifier):
        d.s.state.close()
