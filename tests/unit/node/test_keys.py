from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from node.errors import ConfigError
from node.keys import import_key, list_keystores, load_account, new_keystore

KEY = "0x" + "42" * 32


def test_a_keystore_round_trip_with_a_password_file(tmp_path: Path) -> None:
    address, path = new_keystore(tmp_path / "ks", "correct horse")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "crypto" in json.loads(path.read_text())
    (tmp_path / "pw").write_text("correct horse\n")
    assert load_account(keystore=path, password_file=tmp_path / "pw").address == address
    assert list_keystores(tmp_path / "ks") == [(address, path)]


def test_import_and_password_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    address, path = import_key(tmp_path, KEY, "a long password")
    monkeypatch.setenv("PW", "a long password")
    assert load_account(keystore=path, password_env="PW").address == address
    assert KEY[2:] not in path.read_text(), "the key is stored encrypted"


def test_wrong_password_and_bad_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, path = import_key(tmp_path, KEY, "a long password")
    monkeypatch.setenv("PW", "wrong password")
    with pytest.raises(ConfigError, match="wrong password"):
        load_account(keystore=path, password_env="PW")
    with pytest.raises(ConfigError, match="at least 8"):
        new_keystore(tmp_path, "short")
    with pytest.raises(ConfigError, match="not a valid private key"):
        import_key(tmp_path, "0x1234", "a long password")
    with pytest.raises(ConfigError, match="exactly one"):
        load_account()
    with pytest.raises(ConfigError, match="NOPE"):
        load_account(keystore=path, password_env="NOPE")


def test_dev_accounts() -> None:
    assert load_account(dev_account=0).address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
