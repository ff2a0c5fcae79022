"""Scriptable commands (issue 30): every read command's --json is one document on stdout with the table's fields and
amounts in exact wei as strings, against a real chain and store with a completed task; `dml node status` asks a
running node's own API how it is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from client.cli import app
from node.api import serve_in_background
from node.chain.devnet import free_port
from testkit.chain import Chain
from testkit.polling import wait_until
from testkit.servers import store_server
from tests.integration.client.driver import complete, node
from tests.integration.client.test_task_cli import dml, flags, submit_small_task

pytestmark = pytest.mark.chain
runner = CliRunner()


def _json(*args: str) -> dict[str, object]:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    document = json.loads(result.stdout)  # nothing but the document on stdout
    assert isinstance(document, dict)
    return document


def test_read_commands_print_one_json_document_with_exact_wei(chain: Chain, tmp_path: Path) -> None:
    with store_server(tmp_path / "objects") as (store, _):
        f = flags(chain, tmp_path, store)
        task_id = submit_small_task(f)
        complete(chain, tmp_path, store, task_id)
        market = chain.market()
        task = market.get_task(task_id)

        listed = _json("task", "list", "--json", *f[:4])
        [row] = [t for t in listed["tasks"] if t["id"] == task_id]  # type: ignore[attr-defined]
        assert (row["status"], row["round"], row["rounds"], row["units"], row["quorum"]) == ("completed", 1, 1, 2, 1)
        assert (row["escrow_wei"], row["escrow"]) == ("0", "0.000000 ETH")

        shown = _json("task", "show", str(task_id), "--json", *f)
        assert shown["budget_wei"] == str(task.params.budget)
        assert shown["miner_reward_wei"] == str(task.params.miner_reward)
        assert shown["final_model"] is not None
        assert str(shown["final_model"]).startswith("bafkrei")
        assert (shown["accepted"], shown["rejected"], shown["expired"]) == (3, 0, 0)
        assert shown["units_of_this_round"] == ["accepted"] * 3
        assert shown["metric"] == "accuracy"
        assert 0.0 < shown["rounds_evaluated"]["1"]["value"] <= 1.0  # type: ignore[index]
        assert shown["timeouts_s"]["challenge_window"] == task.params.challenge_window  # type: ignore[index]

        books = _json("state", "--json", *f[:4])
        assert books["balance_wei"] == str(market.balance())
        assert books["total_owed_wei"] == str(market.total_owed())
        assert (books["buckets_sum_to_total_owed"], books["solvent"]) == (True, True)

        miner = chain.accounts[2].address
        earned = _json("account", "earnings", "--dev-account", "2", "--json", *f)
        assert earned["account"] == miner
        assert int(str(earned["earned_wei"])) == 2 * task.params.miner_reward + task.params.aggregator_reward
        assert earned["credit_wei"] == str(market.credit_of(miner))
        assert earned["credit_matches_events"] is True

        evaluated = _json("model", "eval", str(task_id), "--json", *f)
        assert (evaluated["kind"], evaluated["evaluated_on"]) == ("classification", "the held-out split")
        assert evaluated["accuracy"] == pytest.approx(shown["rounds_evaluated"]["1"]["value"])  # type: ignore[index]
        waited = _json("task", "watch", str(task_id), "--json", *f)  # a finished task: at once
        assert (waited["id"], waited["status"], waited["budget_wei"]) == (task_id, "completed", shown["budget_wei"])


def test_account_list_prints_its_keystores_as_json(tmp_path: Path) -> None:
    from node.keys import new_keystore

    address, path = new_keystore(tmp_path, "a long enough password")
    listed = _json("account", "list", "--dir", str(tmp_path), "--json")
    assert listed == {"keystores": [{"address": address, "path": str(path)}]}


def test_node_status_asks_a_running_node_and_exits_50_for_one_that_does_not_answer(
    chain: Chain, tmp_path: Path
) -> None:
    with store_server(tmp_path / "objects") as (store, _):
        services, daemon = node(chain, tmp_path, store, "verifier", 4, ["verifier", "keeper"])
        port = free_port()
        server = serve_in_background(daemon, "127.0.0.1", port)
        try:
            daemon.cycle()
            url = f"http://127.0.0.1:{port}"
            wait_until(lambda: runner.invoke(app, ["node", "status", "--api", url]).exit_code == 0,
                       timeout_s=30, what="the node's API to answer")  # fmt: skip
            [report] = _json("node", "status", "--api", url, "--json")["nodes"]  # type: ignore[misc]
            assert (report["answered"], report["health"], report["address"]) == (True, "ok", services.address)
            assert report["roles"] == ["verifier", "keeper"]
            assert report["stake_wei"] == str(services.market.stake_of(services.address).total)
            assert report["confirmations"] == "0 blocks under the head (local devnet)"
            assert report["view_block"] == report["last_block"] == daemon.status.last_block
            table = runner.invoke(app, ["node", "status", "--api", url]).stdout
            assert "health          ok" in table
            assert "acts on" in table

            gone = dml("node", "status", "--api", f"http://127.0.0.1:{free_port()}", "--json")  # as a script runs it
            assert gone.returncode == 50
            [down] = json.loads(gone.stdout)["nodes"]
            assert (down["answered"], down["problem"]) == (False, "not answering: ConnectionError")
            assert gone.stderr.strip().splitlines() == [f"error: 1 of 1 nodes not ok: {down['api']}"]
        finally:
            server.stop()
            services.state.close()
