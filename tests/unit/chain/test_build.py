from __future__ import annotations

import json

from node.chain import reverts
from node.chain.build import load_artifact, market_abi, repo_root, source_digest
from node.chain.reverts_codegen import render, target


def test_committed_artifact_matches_the_sources() -> None:
    artifact = load_artifact()
    assert artifact.source_digest == source_digest(repo_root()), (
        "node/chain/artifacts/TaskMarket.json is stale: run `python -m node.chain.build`"
    )
    assert artifact.bytecode.startswith("0x60")
    assert any(item.get("name") == "createTask" for item in artifact.abi)
    # Both builds, different code (transient storage or none), and the pool's events beside the market's ABI.
    assert set(artifact.bytecodes) == {"cancun", "shanghai"}
    assert artifact.bytecode_for("cancun") != artifact.bytecode_for("shanghai")
    assert any(item.get("name") == "PoolWeightChanged" for item in artifact.pool_abi)


def test_an_unknown_build_is_refused_by_name() -> None:
    import pytest

    from node.errors import ConfigError

    with pytest.raises(ConfigError, match="no build of the contracts for EVM version 'paris'"):
        load_artifact().bytecode_for("paris")


def test_abi_digest_is_stable_and_canonical() -> None:
    artifact = load_artifact()
    reordered = json.loads(json.dumps(artifact.abi))
    assert (
        artifact.abi_digest
        == type(artifact)(
            artifact.name, reordered, artifact.bytecodes, artifact.source_digest, artifact.compiler
        ).abi_digest
    )
    assert len(artifact.abi_digest) == 64


def test_every_solidity_error_has_its_python_twin() -> None:
    abi = load_artifact().abi
    assert target().read_text() == render(abi), "node/chain/reverts.py is stale: python -m node.chain.reverts_codegen"
    for item in abi:
        if item["type"] == "error":
            cls = reverts.ALL[item["name"]]
            assert cls.fields == tuple(i["name"] for i in item["inputs"])


def test_the_markets_abi_holds_the_views_its_fallback_answers() -> None:
    market = [
        {"type": "function", "name": "claimUnits"},
        {"type": "fallback", "stateMutability": "nonpayable"},
        {"type": "error", "name": "TaskMarketUnknownTask"},
    ]
    views = [
        {"type": "function", "name": "getUnit"},
        {"type": "function", "name": "claimUnits"},  # never twice
        {"type": "error", "name": "TaskMarketUnknownTask"},
    ]
    assert market_abi(market, views) == [
        {"type": "function", "name": "claimUnits"},
        {"type": "error", "name": "TaskMarketUnknownTask"},
        {"type": "function", "name": "getUnit"},
    ]
    functions = [item["name"] for item in load_artifact().abi if item["type"] == "function"]
    assert {"claimUnits", "getTask", "getUnit", "getUnits", "getBallot", "getLevel", "isClaimable"} <= set(functions)
    assert len(functions) == len(set(functions))
