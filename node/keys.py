"""Accounts: encrypted keystore files (eth-account's scrypt JSON), or Anvil's well-known keys on a devnet.

A key never appears in a log, a flag or an error message; a password comes from a file or an environment
variable.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from node.chain.devnet import dev_accounts
from node.errors import ConfigError


def store_token(token_file: Path | None, token_env: str | None, *, flags: tuple[str, str]) -> str | None:
    """A store's write token, from a file (a container's secret; surrounding white space dropped) or an environment
    variable; None when neither is given. ``flags``: the options that name them, for the one-line error."""
    if token_file is not None:
        try:
            token = token_file.read_text().strip()
        except OSError as err:
            raise ConfigError(f"{flags[0]} {token_file}: {err.strerror or err}") from err
        if not token:
            raise ConfigError(f"{flags[0]} {token_file} is empty")
        return token
    if token_env is not None:
        value = os.environ.get(token_env)
        if not value:
            raise ConfigError(f"environment variable {token_env} ({flags[1]}: the store token) is not set")
        return value
    return None


def _password(password_file: Path | None, password_env: str | None) -> str:
    if password_file is not None:
        try:
            return password_file.read_text().rstrip("\n")
        except OSError as err:
            raise ConfigError(f"cannot read the password file {password_file}: {err.strerror}") from err
    if password_env is not None:
        value = os.environ.get(password_env)
        if value is None:
            raise ConfigError(f"environment variable {password_env} (the keystore password) is not set")
        return value
    raise ConfigError("a keystore needs its password: give --password-file or --password-env")


def new_keystore(directory: Path, password: str) -> tuple[str, Path]:
    """Creates a fresh key, writes it encrypted, returns its address and file."""
    account = Account.create(secrets.token_hex(32))
    return account.address, write_keystore(directory, account, password)


def import_key(directory: Path, private_key: str, password: str) -> tuple[str, Path]:
    try:
        account = Account.from_key(private_key)
    except (ValueError, TypeError) as err:
        raise ConfigError("not a valid private key") from err
    return account.address, write_keystore(directory, account, password)


def write_keystore(directory: Path, account: LocalAccount, password: str) -> Path:
    if len(password) < 8:
        raise ConfigError("choose a keystore password of at least 8 characters")
    directory.mkdir(parents=True, exist_ok=True)
    document = Account.encrypt(account.key, password)
    path = directory / f"{account.address.lower()[2:]}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(document, f)
    return path


def list_keystores(directory: Path) -> list[tuple[str, Path]]:
    out: list[tuple[str, Path]] = []
    for path in sorted(directory.glob("*.json")) if directory.exists() else []:
        try:
            address = json.loads(path.read_text())["address"]
        except (OSError, ValueError, KeyError):
            continue
        out.append((str(to_checksum_address("0x" + address.removeprefix("0x"))), path))
    return out


def load_account(
    *,
    keystore: Path | None = None,
    password_file: Path | None = None,
    password_env: str | None = None,
    dev_account: int | None = None,
) -> LocalAccount:
    if (keystore is None) == (dev_account is None):
        raise ConfigError("give exactly one of a keystore file or a devnet account index")
    if dev_account is not None:
        if not 0 <= dev_account < 100:
            raise ConfigError(f"dev account index {dev_account} is out of range 0..99")
        return dev_accounts(dev_account + 1)[dev_account]
    assert keystore is not None
    try:
        document = json.loads(keystore.read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(f"cannot read the keystore {keystore}: {err}") from err
    try:
        key = Account.decrypt(document, _password(password_file, password_env))
    except ValueError as err:
        raise ConfigError(f"cannot decrypt {keystore}: wrong password?") from err
    account: LocalAccount = Account.from_key(key)
    return account
