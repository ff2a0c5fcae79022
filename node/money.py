"""Amounts as people read them: wei shown as ETH to 6 places, exactly (integer arithmetic: a float would round a
large amount), with thousands separators. The one formatter of the CLI, the node's messages and the explorer."""

from __future__ import annotations

WEI_PER_ETH = 10**18


def eth(wei: int | str) -> str:
    """``1234500000000000000000`` → ``"1,234.500000 ETH"`` (an int, or a decimal string as the JSON APIs carry)."""
    value = int(wei)
    whole, rest = divmod(abs(value), WEI_PER_ETH)
    return f"{'-' if value < 0 else ''}{whole:,}.{rest * 10**6 // WEI_PER_ETH:06d} ETH"
