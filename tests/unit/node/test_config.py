from __future__ import annotations

from pathlib import Path

import pytest

from node.config import load_settings
from node.errors import ConfigError


def test_flags_beat_environment_beat_file_beat_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "node.toml"
    config.write_text(
        '[node]\nroles = ["miner"]\ndev_account = 2\npoll_interval_s = 5.0\nthreads = 2\nrpc_url = "http://file"\n'
    )
    monkeypatch.setenv("DMLNET_THREADS", "3")
    monkeypatch.setenv("DMLNET_RPC_URL", "http://env")
    settings = load_settings({"rpc_url": "http://flag", "roles": None}, config)
    assert settings.rpc_url == "http://flag"
    assert settings.threads == 3
    assert settings.poll_interval_s == 5.0
    assert settings.roles == ["miner"]
    assert settings.withdraw_threshold_wei == 10**18


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"roles": ["miner", "wizard"], "threads": 0, "poll_interval_s": -1, "dev_account": 1})
    message = str(info.value)
    assert "roles.1" in message
    assert "threads" in message
    assert "poll_interval_s" in message


def test_exactly_one_key_source() -> None:
    with pytest.raises(ConfigError, match="exactly one of keystore"):
        load_settings({"roles": ["verifier"]})
    with pytest.raises(ConfigError, match="needs password_file or password_env"):
        load_settings({"roles": ["verifier"], "keystore": Path("k.json")})


def test_unknown_settings_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    config.write_text('roles = ["miner"]\ndev_account = 0\nrpc = "typo"\n')
    with pytest.raises(ConfigError, match="rpc"):
        load_settings({}, config)
    config.write_text("roles = [")
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings({}, config)


def test_the_file_is_checked_like_flags(tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    config.write_text('roles = ["miner"]\ndev_account = 2\npoll_intervall_s = 5\n')  # top level, a typo
    with pytest.raises(ConfigError, match="poll_intervall_s"):
        load_settings({}, config)
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings({}, tmp_path / "missing.toml")
    config.write_text('roles = ["miner"]\ndev_account = 2\npoll_interval_s = 5\n')
    assert load_settings({}, config).poll_interval_s == 5.0
