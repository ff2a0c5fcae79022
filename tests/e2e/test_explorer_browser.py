"""The explorer in a real headless browser while a real network trains a task: the task page follows the units to
accepted without a reload and its accuracy chart gains a point per round; a Byzantine miner's account page shows
its slash; every figure on the pages equals the chain's (views and events). Screenshots of each page, at desktop
and phone width, are kept under test-artifacts/explorer/."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from node.chain.events import EventReader
from node.daemon import Daemon
from node.ml.baseline import centralized
from node.ml.data import digits
from node.ml.defaults import digits_spec
from node.ml.evaluate import evaluate
from node.ml.material import split_for
from node.ml.model import build_module, state_of
from testkit.adversaries import CheatingMinerRole
from testkit.chain import Chain
from testkit.polling import wait_until
from testkit.servers import store_server
from tests.e2e.explorer_browser import headless_chromium, running_explorer
from tests.e2e.inprocess import TIMEOUT_S as SHORT_TIMEOUT_S
from tests.e2e.inprocess import drive, short_task
from tests.e2e.ledger import Ledger
from tests.integration.client.driver import node

pytestmark = [pytest.mark.chain, pytest.mark.slow]

UNITS, ROUNDS = 3, 3
SPEC = digits_spec(dataset_digest="0x" + "00" * 32, shards=UNITS, local_steps=100, checkpoint_every=20, hidden=32)
HONEST_MINERS, CHEATER, VERIFIERS = [2, 3], 4, [5, 6, 7]
ARTIFACTS = Path(os.environ.get("DMLNET_TEST_ARTIFACTS", "test-artifacts")) / "explorer"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def store_url(tmp_path: Path) -> Iterator[str]:
    with store_server(tmp_path / "store", max_bytes=1 << 30) as (url, _):
        yield url


def _figure(page: Page, name: str) -> int:
    return int(page.get_attribute(f"[data-figure={name}]", "data-wei") or "-1")


def cells(page: Page, table: str) -> list[str]:
    """Every cell's text of a table (its text, not its layout: a long table below the fold renders lazily)."""
    texts: list[str] = page.eval_on_selector_all(f"{table} td", "all => all.map(td => td.textContent)")
    return texts


def _screenshots(page: Page, url: str, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(url)
    page.wait_for_function("() => Number(document.body.dataset.refreshed || 0) >= 1")
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.wait_for_function("() => Number(document.body.dataset.refreshed || 0) >= 2")
    page.screenshot(path=str(ARTIFACTS / f"{name}-phone.png"), full_page=True)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{name} is wider than a phone ({overflow} px): content must wrap or scroll inside"


def test_the_explorer_follows_a_training_network_in_a_browser(chain: Chain, tmp_path: Path, store_url: str) -> None:
    owner = chain.market(chain.accounts[1])
    start = chain.w3.eth.block_number
    task_id = short_task(chain, store_url, SPEC, rounds=ROUNDS)
    daemons: list[Daemon] = []
    for account in HONEST_MINERS:
        roles = ["miner", "aggregator"] if account == HONEST_MINERS[-1] else ["miner"]
        daemons.append(node(chain, tmp_path, store_url, f"miner-{account}", account, roles)[1])
    services, cheater = node(chain, tmp_path, store_url, "cheater", CHEATER, ["miner"])
    cheater.roles = [CheatingMinerRole(services, "noise", fake_fraction=1.0)]
    daemons.insert(0, cheater)  # first: it claims units before the honest miners take them all
    for account in VERIFIERS:
        daemons.append(node(chain, tmp_path, store_url, f"verifier-{account}", account, ["verifier", "keeper"])[1])

    with running_explorer(chain, tmp_path / "explorer", store_url) as explorer, headless_chromium() as browser:
        page = browser.new_page()
        page.goto(f"{explorer.url}/tasks/{task_id}")
        page.wait_for_selector("#unit-grid")
        page.evaluate("() => { window.__sameDocument = true; }")  # gone if the page ever reloads
        seen_accepted: list[int] = []
        seen_points: list[int] = []

        def look() -> None:
            accepted = page.evaluate("() => document.querySelectorAll('#unit-grid [data-status=accepted]').length")
            points = page.evaluate("() => Number(document.getElementById('chart-accuracy')?.dataset.points || 0)")
            if not seen_accepted or (accepted, points) != (seen_accepted[-1], seen_points[-1]):
                seen_accepted.append(int(accepted))
                seen_points.append(int(points))

        drive(chain, task_id, daemons, first=look)
        total = ROUNDS * (UNITS + 1)
        wait_until(
            lambda: (look(), seen_accepted[-1] == total and seen_points[-1] == ROUNDS)[1],
            timeout_s=120,
            what="the task page to show every unit accepted and every round's accuracy",
        )
        assert page.evaluate("() => window.__sameDocument === true"), "the page was reloaded"
        assert seen_accepted == sorted(seen_accepted), seen_accepted
        assert len(set(seen_accepted)) >= ROUNDS + 1, f"units moved to accepted live, not at once: {seen_accepted}"
        assert [p for i, p in enumerate(seen_points) if i == 0 or p != seen_points[i - 1]] == list(
            range(seen_points[0], ROUNDS + 1)
        ), f"the accuracy chart gained one point per round: {seen_points}"

        # The centralized baseline beside the curve: the same steps on one node, computed here independently.
        parts = split_for(SPEC, digits())
        steps = ROUNDS * UNITS * SPEC.training.local_steps
        trained = centralized(SPEC, state_of(build_module(SPEC.model, seed=0)), parts.shards, steps)
        expected = evaluate(SPEC.model, trained, parts.test).accuracy
        wait_until(lambda: page.get_attribute("#baseline", "data-accuracy"), timeout_s=120, what="the baseline")
        assert float(page.get_attribute("#baseline", "data-accuracy") or "nan") == pytest.approx(expected, abs=1e-9)

        # Every figure on the pages is the chain's.
        reader = EventReader(chain.w3, chain.deployment.address, chain.artifact.abi)
        params = owner.get_task(task_id).params
        ledger = Ledger.of(reader.read(start, reader.head()), task_id, params.units_per_round)
        cheat = chain.accounts[CHEATER].address
        assert ledger.slashed[cheat] > 0, "the Byzantine miner was caught"
        wait_until(lambda: _figure(page, "escrow") == owner.get_task(task_id).state.escrow, timeout_s=30,
                   what="the escrow shown to reach the chain's")  # fmt: skip
        assert _figure(page, "budget") == params.budget
        assert _figure(page, "paid") == sum(
            int(e.args["amount"]) for e in reader.read(start, reader.head())
            if e.name == "Credited" and e.args["taskId"] == task_id and e.args["account"] != owner.signer.address
        )  # fmt: skip
        assert _figure(page, "slashed") == sum(ledger.slashed.values())
        assert int(page.inner_text("[data-figure=accepted] .value")) == len(ledger.accepted)
        assert int(page.inner_text("[data-figure=rejected] .value")) == len(ledger.rejected)
        # Why each rejected result was rejected: re-judged by the explorer, the check and the segment shown.
        wait_until(
            lambda: page.locator("#rejections-table tbody tr").count() == len(ledger.rejected),
            timeout_s=180,
            what="every rejection explained on the task page",
        )
        why = page.inner_text("#rejections-table")
        assert why.count("re-execution") == len(ledger.rejected), why
        assert "wrongly rejected" not in why
        # The audit, run from the page: it passes and its report is kept and linked.
        page.click("#run-audit")
        page.wait_for_selector("#audit[data-state=passed]", timeout=180_000)
        report = page.get_attribute("#audit a", "href")
        assert report is not None
        assert "PASS" in page.request.get(explorer.url + report).text()
        final = page.get_attribute("p a[href^='/artifacts/']", "href")  # the final model, by CID, from the store
        assert final == "/artifacts/0x" + owner.get_task(task_id).state.final_model_digest.hex()
        assert hashlib.sha256(page.request.get(explorer.url + final).body()).hexdigest() == final.rsplit("0x")[1]
        _screenshots(page, f"{explorer.url}/tasks/{task_id}", "task")

        page.goto(f"{explorer.url}/accounts/{cheat}")
        page.wait_for_selector("[data-figure=slashed]")
        assert _figure(page, "slashed") == ledger.slashed[cheat]
        assert _figure(page, "credit") == owner.credit_of(cheat) == 0
        assert _figure(page, "stake") == owner.stake_of(cheat).total
        assert "slash" in page.inner_text("#money-table")
        _screenshots(page, f"{explorer.url}/accounts/{cheat}", "account-byzantine")

        honest = chain.accounts[HONEST_MINERS[-1]].address
        page.goto(f"{explorer.url}/accounts/{honest}")
        page.wait_for_selector("[data-figure=earned]")
        assert _figure(page, "earned") == ledger.credited[honest] == owner.credit_of(honest) > 0
        assert _figure(page, "slashed") == 0
        # The honest aggregator's aggregation units are Σ, linked to their own pages, never "unit 3".
        page.wait_for_selector("#units-table")
        aggregations = page.locator("#units-table a[href$='/units/3']")
        assert aggregations.count() > 0
        assert set(aggregations.all_text_contents()) == {"Σ"}  # (text, not layout: long tables render lazily)
        assert f"unit {UNITS}" not in (page.text_content("#money-table") or "")

        # A unit has a URL: clicking it in the grid puts it in the address bar; opening it shows the unit.
        page.goto(f"{explorer.url}/tasks/{task_id}")
        page.wait_for_selector("#unit-grid [data-unit='1/3']")
        page.click("#unit-grid [data-unit='1/3']")
        page.wait_for_selector("#unit-title")
        assert page.evaluate("() => location.pathname") == f"/tasks/{task_id}/rounds/1/units/3"
        page.goto(f"{explorer.url}/tasks/{task_id}/rounds/1/units/3")
        page.wait_for_selector("#history-table")
        assert page.inner_text("#unit-title").startswith("Round 2, unit Σ: accepted")
        # People's units: no raw wei or unix seconds in the parameters or the history; the details wrap.
        params = cells(page, "#params-table")
        assert "0.05 ETH" in params  # the unit bond, not 50000000000000000
        assert f"{SHORT_TIMEOUT_S} s" in params
        history = cells(page, "#history-table")
        assert not any(re.search(r"\b1[0-9]{9}\b", c) for c in history), f"a unix time shown raw: {history}"
        assert not any(re.search(r"\b[0-9]{16,}\b", c) for c in history), f"an amount in wei shown raw: {history}"
        assert not any("[object" in c for c in history), history
        claimed = next(c for c in history if c.startswith("bond "))
        assert "bond 0.05 ETH" in claimed, claimed  # the claim's bond, in ETH
        assert re.search(r"deadline \d", claimed), claimed  # its deadline as a date
        _screenshots(page, f"{explorer.url}/tasks/{task_id}/rounds/1/units/3", "unit")
        # A chart of one point spans a moment around it, not years (uPlot's default for a single instant).
        spans = page.evaluate(
            "() => Object.values(charts).filter(c => c.scales.x.time).map(c => c.scales.x.max - c.scales.x.min)"
        )
        assert all(span < 7 * 86_400 for span in spans), spans
        # No Swagger page from a CDN; the schema is served here.
        assert page.request.get(f"{explorer.url}/docs").status == 404
        assert page.request.get(f"{explorer.url}/openapi.json").json()["info"]["title"] == "dmlnet explorer"

        # Without JavaScript, each page shows its key figures, rendered by the server.
        plain = browser.new_context(java_script_enabled=False).new_page()
        plain.goto(f"{explorer.url}/tasks/{task_id}")
        text = plain.inner_text("main")
        assert f"Task #{task_id}" in text
        assert "completed" in text
        assert "loading" not in text
        plain.goto(f"{explorer.url}/tasks/{task_id}/rounds/1/units/3")
        assert "unit Σ (the aggregation)" in plain.inner_text("main")
        plain.goto(f"{explorer.url}/accounts/{honest}")
        assert "earned" in plain.inner_text("main")
        plain.goto(explorer.url)
        assert "units accepted" in plain.inner_text("main")

        page.goto(explorer.url)
        page.wait_for_selector("[data-figure=balance]")
        assert _figure(page, "balance") == owner.balance()
        shown = page.eval_on_selector_all("[data-stake]", "all => all.map(s => [s.dataset.account, s.dataset.stake])")
        assert len(shown) >= len(HONEST_MINERS) + 1 + len(VERIFIERS)
        for account, stake in shown:
            assert int(stake) == owner.stake_of(account).total, f"the stake shown for {account} is the chain's"
        assert _figure(page, "owed") == owner.total_owed()
        _screenshots(page, explorer.url, "network")
