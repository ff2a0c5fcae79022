"""Amounts of ether as people type them, parsed exactly: decimal text with an optional unit, never a float.

``1.1`` and ``1.1 eth`` are 1,100,000,000,000,000,000 wei; ``5 gwei`` and ``5gwei`` are 5,000,000,000 wei; ``7 wei`` is
7 wei. Refused, with the reason: anything that is not a number, a negative amount, a fraction of a wei, and zero
where zero means nothing.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from node.errors import ConfigError

WEI_PER = {"eth": 10**18, "ether": 10**18, "gwei": 10**9, "wei": 1}
_AMOUNT = re.compile(r"^\s*([+-]?[0-9]*\.?[0-9]*(?:[eE][+-]?[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def parse_amount(text: str, *, what: str = "amount", allow_zero: bool = False, default_unit: str = "eth") -> int:
    """``text`` in wei. Raises ConfigError naming ``what`` when it is not an exact, non-negative amount."""
    match = _AMOUNT.match(text)
    if match is None or not match.group(1) or match.group(1) in {".", "+", "-"}:
        raise ConfigError(f"{what}: {text!r} is not an amount (write e.g. 1.5, 1.5 eth, 20 gwei or 100 wei)")
    number, unit = match.group(1), (match.group(2) or default_unit).lower()
    if unit not in WEI_PER:
        raise ConfigError(f"{what}: unknown unit {match.group(2)!r} (eth, gwei or wei)")
    try:
        value = Decimal(number) * WEI_PER[unit]
    except InvalidOperation as err:
        raise ConfigError(f"{what}: {text!r} is not an amount") from err
    if value < 0:
        raise ConfigError(f"{what}: {text.strip()} is negative")
    if value != value.to_integral_value():
        raise ConfigError(f"{what}: {text.strip()} is not a whole number of wei")
    if value == 0 and not allow_zero:
        raise ConfigError(f"{what}: must be more than zero")
    return int(value)
