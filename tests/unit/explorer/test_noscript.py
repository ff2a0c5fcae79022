"""The explorer's first render without JavaScript (explorer.noscript): exact ETH, dates, escaped text, Σ."""

from __future__ import annotations

from explorer import noscript


def test_eth_is_exact_from_wei_strings_beyond_floats() -> None:
    assert noscript.eth("123456789012345678901") == "123.456789 ETH"
    assert noscript.eth(50_000_000_000_000_000) == "0.050000 ETH"
    assert noscript.eth("-1000000000000000000") == "-1.000000 ETH"


def test_a_unit_page_names_the_aggregation_and_escapes_what_it_shows() -> None:
    page = noscript.unit(7, 1, 3, {"status": "accepted", "miner": "<b>x</b>", "history": []}, units_per_round=3)
    assert "Task #7, round 2, unit Σ (the aggregation)" in page
    assert "<b>x</b>" not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page
    assert "open: nothing happened yet" in noscript.unit(7, 0, 1, None, units_per_round=3)


def test_dates_are_utc_and_missing_ones_a_dash() -> None:
    assert noscript.when(0) == "–"
    assert noscript.when(1_800_000_000) == "2027-01-15 08:00:00 UTC"
