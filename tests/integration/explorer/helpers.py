"""Indexing a real chain in tests: an indexer over the session's Anvil, and the derived tables as plain data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from explorer.index import DERIVED_TABLES, Index
from explorer.indexer import Indexer
from testkit.chain import Chain


def open_index(chain: Chain, path: Path) -> Index:
    return Index.open(path, chain.deployment.identity(chain.w3))


def indexer(chain: Chain, index: Index, **options: Any) -> Indexer:
    return Indexer(
        chain.w3,
        chain.deployment.address,
        chain.artifact.abi,
        index,
        start_block=chain.deployment.block_number,
        identity=lambda: chain.deployment.identity(chain.w3),
        **options,
    )


def derived(index: Index) -> dict[str, list[tuple[Any, ...]]]:
    """Every derived table's rows, sorted: two indexes of the same events must hold the same."""
    return {t: sorted(tuple(r) for r in index.query(f"SELECT * FROM {t}")) for t in DERIVED_TABLES}
