from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from node.errors import ConfigError
from node.roles.registry import load_plugins, registered_role


def _services(roles: list[str], plugins: list[str]) -> Any:
    return SimpleNamespace(settings=SimpleNamespace(roles=roles, plugins=plugins))


def test_build_roles_takes_a_plugin_role_by_name() -> None:
    from node.runner import build_roles

    roles = build_roles(_services(["cheat-noise", "keeper"], ["testkit.adversaries"]))
    assert [type(r).__name__ for r in roles] == ["KeeperRole", "CheatingMinerRole"]
    assert roles[1].cheat == "noise"  # type: ignore[attr-defined]


def test_registered_role_unknown_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown role 'mine'.*miner, aggregator, verifier, keeper"):
        registered_role("mine")


def test_load_plugins_missing_module_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="plugin 'no_such_plugin' cannot be imported"):
        load_plugins(["no_such_plugin"])


def test_production_code_never_imports_the_adversaries() -> None:
    probe = (
        "import sys, json\nimport node.runner, node.roles.verifier, node.roles.miner, client.cli, client.demo\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('testkit'))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
