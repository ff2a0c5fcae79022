"""Amounts are exact decimals: every amount a person can type comes out to the wei."""

from __future__ import annotations

from decimal import Decimal

import pytest

from client.amounts import parse_amount
from node.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "wei"),
    [
        ("1.1", 1_100_000_000_000_000_000),
        ("1.1 eth", 1_100_000_000_000_000_000),
        ("1.1ETH", 1_100_000_000_000_000_000),
        ("0.000000000000000001", 1),
        ("5 gwei", 5_000_000_000),
        ("1.5gwei", 1_500_000_000),
        ("7 wei", 7),
        ("1e-3", 10**15),
        ("100000", 100_000 * 10**18),
    ],
)
def test_parse_amount_is_exact(text: str, wei: int) -> None:
    assert parse_amount(text) == wei


def test_every_amount_with_three_decimals_comes_out_to_the_wei() -> None:
    """The float path got 1,038 of these wrong; the decimal path gets none wrong."""
    for milli in range(1, 10_000):
        text = f"{milli // 1000}.{milli % 1000:03d}"
        assert parse_amount(text) == milli * 10**15, text
        assert Decimal(text) * 10**18 == milli * 10**15


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-1", "negative"),
        ("abc", "not an amount"),
        ("", "not an amount"),
        (".", "not an amount"),
        ("1.5 btc", "unknown unit"),
        ("0.5 wei", "whole number of wei"),
        ("0.0000000000000000001", "whole number of wei"),
        ("0", "more than zero"),
        ("nan", "not an amount"),
        ("inf", "not an amount"),
    ],
)
def test_parse_amount_refuses_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_amount(text, what="stake")


def test_zero_where_it_means_something() -> None:
    assert parse_amount("0", allow_zero=True) == 0
