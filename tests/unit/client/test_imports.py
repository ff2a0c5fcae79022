"""The CLI imports what a command needs when it runs: starting `dml` must not pay for torch, web3 or FastAPI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "web3", "eth_account", "fastapi", "uvicorn", "sklearn", "numpy")


def _heavy_modules_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--version"],
        ["task", "--help"],
        ["task", "submit", "--help"],
        ["node", "run", "--help"],
        ["stake", "--help"],
        ["devnet", "--help"],
        ["store", "--help"],
        ["account", "--help"],
        ["spec", "--help"],
        ["model", "--help"],
    ],
    ids=" ".join,
)
def test_help_imports_no_heavy_module(argv: list[str]) -> None:
    code = f"from client.cli import app\ntry:\n    app({argv!r}, standalone_mode=False)\nexcept SystemExit:\n    pass"
    assert _heavy_modules_after(code) == []


def test_chain_reading_commands_import_neither_torch_nor_fastapi() -> None:
    # What `dml task list`, `dml state` and the money commands load when they run: the chain client and the store.
    loaded = _heavy_modules_after("import client.cli, client.session, client.inspect, client.render")
    assert "web3" in loaded  # the probe does load the chain client: the assertion below is not vacuous
    assert not {"torch", "fastapi", "uvicorn", "sklearn"} & set(loaded)


def test_reading_views_imports_no_web3() -> None:
    # `dml task list` reads views over plain JSON-RPC (web3's import alone takes longer than the command).
    loaded = _heavy_modules_after(
        "import client.cli, client.task_cmds, client.session, node.chain.views, node.chain.jsonrpc, node.chain.build"
    )
    assert loaded == []
