"""Writes :mod:`node.chain.reverts` from the artifact's ABI: ``python -m node.chain.reverts_codegen``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from node.chain.build import load_artifact

HEADER = '''"""Python twins of the TaskMarket custom errors, one class each, generated from the ABI.

Regenerate with ``python -m node.chain.reverts_codegen`` after the interface changes; a unit test fails when this
file and the ABI disagree. A revert surfaces as the class of its Solidity error, carrying its arguments by name.
"""

from __future__ import annotations

from node.errors import ContractRevert

'''


def render(abi: list[dict[str, Any]]) -> str:
    """The source of :mod:`node.chain.reverts` for the custom errors of ``abi``."""
    errors = sorted((e for e in abi if e["type"] == "error"), key=lambda e: str(e["name"]))
    lines = [HEADER]
    for e in errors:
        fields = tuple(str(i["name"]) for i in e["inputs"])
        lines += [f"class {e['name']}(ContractRevert):", f'    error_name = "{e["name"]}"']
        lines += [f"    fields = {_tuple(fields)}", "", ""]
    lines.append("ALL: dict[str, type[ContractRevert]] = {")
    lines += [f'    "{e["name"]}": {e["name"]},' for e in errors]
    lines += ["}", ""]
    return "\n".join(lines)


def _tuple(items: tuple[str, ...]) -> str:
    quoted = ", ".join(f'"{item}"' for item in items)
    return f"({quoted},)" if len(items) == 1 else f"({quoted})"


def target() -> Path:
    return Path(__file__).with_name("reverts.py")


if __name__ == "__main__":
    target().write_text(render(load_artifact().abi))
