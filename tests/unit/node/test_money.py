"""The one ETH formatter (node.money): exact where a float would round, for ints and the APIs' decimal strings."""

from __future__ import annotations

from node.money import eth


def test_eth_is_exact_truncated_to_6_places_with_separators() -> None:
    assert eth(0) == "0.000000 ETH"
    assert eth(50_000_000_000_000_000) == "0.050000 ETH"
    assert eth(10**30 + 1) == "1,000,000,000,000.000000 ETH"  # a float would print 1e12 with rounding noise
    assert eth(999_999_999_999_999_999) == "0.999999 ETH", "truncated, never rounded up to 1"
    assert eth("123456789012345678901") == "123.456789 ETH"
    assert eth(-(10**18)) == "-1.000000 ETH"
