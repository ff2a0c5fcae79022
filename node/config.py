"""A node's configuration: flags over ``DMLNET_*`` environment variables over a TOML file over defaults.

Validated once, at start, with every problem listed together (pydantic at this edge only).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from node.chain.confirmations import check_setting
from node.errors import ConfigError

ETHER = 10**18
# The roles every node knows; plugins register more (node.roles.registry).
BUILT_IN = ("miner", "aggregator", "verifier", "keeper", "owner")


class NodeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DMLNET_", extra="forbid", frozen=True)

    plugins: list[str] = Field(default_factory=list)  # modules imported at start: they register extra roles
    # Built-in roles (miner, verifier, aggregator, keeper), or roles a plugin registers (see node/roles/registry.py).
    roles: list[str] = Field(min_length=1)
    rpc_url: str = "http://127.0.0.1:8545"
    deployment: Path = Path(".dmlnet/devnet/deployment.json")
    store: list[str] = Field(default_factory=lambda: [".dmlnet/store"], min_length=1)
    store_token_env: str | None = None
    store_token_file: Path | None = None  # a file holding the store's write token (a container's secret)
    # Where to fetch the deployment file from at start (an http(s) URL, or a CID in the node's stores): written to
    # data_dir/deployment.json and used in place of ``deployment`` (a node joining a network from another machine).
    deployment_from: str | None = None
    put_replicas: int = Field(default=1, ge=1, le=16)
    data_dir: Path = Path(".dmlnet/node")
    keystore: Path | None = None
    password_file: Path | None = None
    password_env: str | None = None
    dev_account: int | None = Field(default=None, ge=0, le=99)
    poll_interval_s: float = Field(default=1.0, gt=0, le=300)
    stake_cap_wei: int = Field(default=100 * ETHER, ge=0)
    withdraw_threshold_wei: int = Field(default=ETHER, ge=0)
    threads: int | None = Field(default=None, ge=1, le=256)  # None: every core the node has
    device: Literal["cpu", "cuda", "mps"] | None = None  # None: the best present
    api_host: str = "127.0.0.1"
    api_port: int | None = Field(default=None, ge=1, le=65535)
    receipt_timeout_s: float = Field(default=120.0, gt=0)
    # The owner role serves split training's step protocol here (the URL in its tasks' privacy.owner_url).
    owner_host: str = "127.0.0.1"
    owner_port: int | None = Field(default=None, ge=1, le=65535)
    # How long a node waits for its chain to answer (at start: an RPC outage, a chain that boots after the node;
    # while running: a chain gone away) before giving up with the unreachable-chain exit code. 0: give up at once.
    chain_wait_s: float = Field(default=120.0, ge=0)
    # /health answers 503 "stalled" when no cycle has completed for this long (a cycle that trains a unit can take
    # a while: keep it above the longest unit).
    health_stall_s: float = Field(default=300.0, gt=0)
    # A cycle's time budget: once spent, the roles not reached yet and the jobs not started yet wait for the next
    # cycle (which resumes work in flight first); a job already started (one unit's training or re-execution) is
    # never cut, and a cycle that overruns is logged.
    cycle_budget_s: float = Field(default=600.0, gt=0)
    tasks: list[int] | None = None  # serve only these task ids (None: all)
    # How final a block must be before the node acts on it (node.chain.confirmations): auto (0 on a local devnet,
    # the chain's safe block where it has one, else 12 blocks), safe, finalized, or a block count.
    confirmations: str = "auto"
    log_file: Path | None = None  # every log line appended here too (the node logs to stderr as well)
    # Verifiers also re-check decided verdicts they did not vote on, and challenge the ones they find wrong: at
    # most this many re-executions per cycle (0: never watch).
    watch_budget: int = Field(default=2, ge=0, le=1000)
    # Miners: most training units one claim takes (one transaction for the claims, one for the results). Fewer
    # when the claim timeout leaves time to train fewer, and one until the node has timed a unit. 1: a unit at a
    # time, which leaves the round's other units to other miners.
    claim_batch: int = Field(default=1, ge=1, le=256)

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, roles: list[str], info: ValidationInfo) -> list[str]:
        if info.data.get("plugins"):
            return roles  # a plugin's roles are known once it is imported, at start (node.roles.registry)
        for i, role in enumerate(roles):
            if role not in BUILT_IN:
                raise ValueError(f"roles.{i}: unknown role {role!r}: one of {', '.join(BUILT_IN)} (or --plugin's)")
        return roles

    @field_validator("confirmations")
    @classmethod
    def _confirmations(cls, value: str) -> str:
        return check_setting(value)

    @model_validator(mode="after")
    def _one_key_source(self) -> NodeSettings:
        if (self.keystore is None) == (self.dev_account is None):
            raise ValueError("give exactly one of keystore (with password_file or password_env) or dev_account")
        if self.keystore is not None and self.password_file is None and self.password_env is None:
            raise ValueError("a keystore needs password_file or password_env")
        return self


def load_settings(overrides: dict[str, Any], config_file: Path | None = None) -> NodeSettings:
    """Flags (``overrides``, None meaning "not given") over ``DMLNET_*`` environment variables over the TOML file
    (keys at the top level or in a ``[node]`` table) over defaults: pydantic-settings' sources, in that order."""
    header: tuple[str, ...] | None = None
    if config_file is not None:
        try:
            document = tomllib.loads(config_file.read_text())
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise ConfigError(f"cannot read {config_file}: {err}") from err
        header = ("node",) if isinstance(document.get("node"), dict) else None

    class FromSources(NodeSettings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            if config_file is None:
                return (init_settings, env_settings)
            toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file, toml_table_header=header)
            return (init_settings, env_settings, toml)

    try:
        return FromSources(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as err:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg'].removeprefix('Value error, ')}"
            for e in err.errors()
        ]
        if len(problems) == 1:  # one problem, one line
            raise ConfigError(f"invalid node configuration: {problems[0]}") from err
        raise ConfigError("invalid node configuration:\n  " + "\n  ".join(problems)) from err
