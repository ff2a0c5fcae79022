"""Compile the contracts with the official Solidity compiler and keep the artifact the nodes load.

The artifact (ABI + bytecode) is committed under ``node/chain/artifacts`` so that a node needs neither Node.js nor
a compiler to run; it records the digest of the sources and settings it was built from, and the tests fail when
it is stale. ``python -m node.chain.build`` rebuilds it through py-solc-x and ``tools/solc`` (a native solc
0.8.30 when installed, else the npm WebAssembly build).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from node.errors import ConfigError, ToolchainError

log = logging.getLogger(__name__)

CONTRACT = "TaskMarket"
# Its views live in a second contract that its fallback runs on its storage: their ABI joins the market's, since
# the market's address answers them.
VIEWS_CONTRACT = "TaskMarketViews"
# The market creates it (Staking's constructor) and reads its draws; its events are decoded with its own ABI.
POOL_CONTRACT = "VerifierPool"
ARTIFACT_NAME = "TaskMarket.json"
SOURCE_DIR = Path("contracts") / "src"
# One build per EVM version, from the same sources: `dmlnet-evm/` resolves to the build's EVM features.
EVM_DIR = Path("contracts") / "evm"
CANCUN = "cancun"
SHANGHAI = "shanghai"
# Newest first: a deployment takes the first one its chain runs (node.chain.evm).
EVM_VERSIONS: tuple[str, ...] = (CANCUN, SHANGHAI)
OZ_REMAPPING = "@openzeppelin/contracts/=node_modules/@openzeppelin/contracts/"
# Keep in step with foundry.toml so forge, slither and the nodes run the same (Cancun) bytecode.
SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    # Same as foundry.toml: the IR pipeline keeps TaskMarket under EIP-170's 24,576 bytes of runtime code.
    "viaIR": True,
    "metadata": {"bytecodeHash": "none"},
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}


def settings_for(evm_version: str) -> dict[str, Any]:
    """The compiler settings of one build: SETTINGS at that EVM version, its features folder remapped."""
    features = (EVM_DIR / evm_version).as_posix() + "/"
    return {**SETTINGS, "evmVersion": evm_version, "remappings": [OZ_REMAPPING, f"dmlnet-evm/={features}"]}


@dataclass(frozen=True, slots=True)
class Artifact:
    """The compiled contracts as the nodes need them: the market's ABI (one for every build), its creation code
    per EVM version, and the ABI of the pool it creates."""

    name: str
    abi: list[dict[str, Any]]
    bytecodes: Mapping[str, str]
    source_digest: str
    compiler: str
    pool_abi: list[dict[str, Any]] = field(default_factory=list)

    @property
    def bytecode(self) -> str:
        """The newest build's creation code."""
        return self.bytecode_for(EVM_VERSIONS[0])

    def bytecode_for(self, evm_version: str) -> str:
        try:
            return self.bytecodes[evm_version]
        except KeyError as err:
            raise ConfigError(
                f"no build of the contracts for EVM version {evm_version!r}: there are {', '.join(self.bytecodes)}"
            ) from err

    @property
    def abi_digest(self) -> str:
        """SHA-256 of the canonical ABI JSON: deployments record it so a node can tell it speaks the same ABI."""
        canonical = json.dumps(self.abi, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(canonical).hexdigest()


def repo_root() -> Path:
    """The source checkout this package lives in (``node/chain/build.py`` → root)."""
    return Path(__file__).resolve().parents[2]


def source_digest(root: Path) -> str:
    """Digest of every contract source, the OpenZeppelin version and the compiler settings."""
    h = hashlib.sha256()
    for path in sorted([*(root / SOURCE_DIR).rglob("*.sol"), *(root / EVM_DIR).rglob("*.sol")]):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    oz_package = root / "node_modules" / "@openzeppelin" / "contracts" / "package.json"
    lock = root / "package-lock.json"
    if oz_package.exists():
        h.update(json.loads(oz_package.read_text())["version"].encode())
    elif lock.exists():
        packages = json.loads(lock.read_text()).get("packages", {})
        h.update(packages.get("node_modules/@openzeppelin/contracts", {}).get("version", "").encode())
    for evm_version in EVM_VERSIONS:
        h.update(json.dumps(settings_for(evm_version), sort_keys=True).encode())
    return h.hexdigest()


def solc_command(root: Path) -> Path:
    """Our solc-compatible command (it prefers a native solc 0.8.30 itself)."""
    path = root / "tools" / "solc"
    if not path.exists():
        raise ToolchainError(f"{path} is missing: run from a dmlnet checkout")
    return path


def compile_contract(root: Path) -> Artifact:
    """Compile ``TaskMarket`` once per EVM version through py-solc-x's standard-JSON interface."""
    if not (root / "node_modules" / "@openzeppelin" / "contracts").exists():
        raise ToolchainError("node_modules/@openzeppelin/contracts is missing: run `npm ci`")
    solc = solc_command(root)
    builds = {evm_version: _compile(root, solc, evm_version) for evm_version in EVM_VERSIONS}
    abis = {
        evm_version: market_abi(out[CONTRACT]["abi"], out[VIEWS_CONTRACT]["abi"]) for evm_version, out in builds.items()
    }
    first = abis[EVM_VERSIONS[0]]
    if any(abi != first for abi in abis.values()):
        raise ToolchainError(f"the builds for {', '.join(EVM_VERSIONS)} have different ABIs: contracts/evm differs")
    return Artifact(
        name=CONTRACT,
        abi=first,
        bytecodes={
            evm_version: "0x" + out[CONTRACT]["evm"]["bytecode"]["object"] for evm_version, out in builds.items()
        },
        source_digest=source_digest(root),
        compiler=_version(solc),
        pool_abi=builds[EVM_VERSIONS[0]][POOL_CONTRACT]["abi"],
    )


def _compile(root: Path, solc: Path, evm_version: str) -> dict[str, Any]:
    """One build: the market's sources and its EVM version's features; the three contracts' output by name."""
    import solcx  # only builders need it

    paths = [*(root / SOURCE_DIR).rglob("*.sol"), *(root / EVM_DIR / evm_version).rglob("*.sol")]
    sources = {path.relative_to(root).as_posix(): {"content": path.read_text()} for path in sorted(paths)}
    try:
        output = solcx.compile_standard(
            {"language": "Solidity", "sources": sources, "settings": settings_for(evm_version)},
            base_path=str(root),
            allow_paths=[str(root)],
            solc_binary=str(solc),
        )
    except solcx.exceptions.SolcError as err:
        raise ToolchainError(f"solc ({evm_version}) failed: {err}") from err
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise ToolchainError(
            f"solc ({evm_version}): " + "; ".join(e.get("formattedMessage", e["message"]) for e in errors)
        )
    contracts = output["contracts"]
    return {
        name: contracts[f"{SOURCE_DIR.as_posix()}/{name}.sol"][name]
        for name in (CONTRACT, VIEWS_CONTRACT, POOL_CONTRACT)
    }


def market_abi(market: list[dict[str, Any]], views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ABI of the market's address: its own, and its views contract's functions (its events and errors are the
    market's own, from the same interface). The market's fallback, which forwards them, is left out: every call a
    client makes is named."""
    own = [entry for entry in market if entry["type"] != "fallback"]
    names = {entry.get("name") for entry in own if entry["type"] == "function"}
    forwarded = [entry for entry in views if entry["type"] == "function" and entry["name"] not in names]
    return own + forwarded


def _version(solc: Path) -> str:
    import subprocess

    out = subprocess.run([str(solc), "--version"], capture_output=True, text=True, check=True, timeout=60)
    return out.stdout.strip().splitlines()[-1].removeprefix("Version: ")


def artifact_path() -> Path:
    return Path(str(resources.files("node.chain") / "artifacts" / ARTIFACT_NAME))


def write_artifact(artifact: Artifact, path: Path | None = None) -> Path:
    target = path or artifact_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "name": artifact.name,
        "abi": artifact.abi,
        "bytecodes": dict(artifact.bytecodes),
        "poolAbi": artifact.pool_abi,
        "sourceDigest": artifact.source_digest,
        "compiler": artifact.compiler,
    }
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    tmp.replace(target)
    return target


def load_artifact(path: Path | None = None) -> Artifact:
    """The committed artifact (what every node deploys and talks to)."""
    source = path or artifact_path()
    try:
        document = json.loads(source.read_text())
    except FileNotFoundError as err:
        raise ToolchainError(f"{source} is missing: run `python -m node.chain.build`") from err
    try:
        return Artifact(
            name=document["name"],
            abi=document["abi"],
            bytecodes=document["bytecodes"],
            source_digest=document["sourceDigest"],
            compiler=document["compiler"],
            pool_abi=document["poolAbi"],
        )
    except KeyError as err:
        raise ToolchainError(
            f"{source} lacks {err}: it is from an older build, run `python -m node.chain.build`"
        ) from err


def ensure_artifact(root: Path | None = None) -> Artifact:
    """Rebuilds the artifact when the sources changed since it was written; returns the current one."""
    base = root or repo_root()
    digest = source_digest(base)
    try:
        current = load_artifact()
        if current.source_digest == digest:
            return current
    except ToolchainError:
        pass
    log.info("compiling contracts", extra={"source_digest": digest})
    artifact = compile_contract(base)
    write_artifact(artifact)
    return artifact


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Compile the dmlnet contracts into the committed artifact.")
    parser.add_argument("--check", action="store_true", help="exit 1 if the artifact is stale, build nothing")
    parser.add_argument("--force", action="store_true", help="rebuild even when the sources did not change")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    root = repo_root()
    if args.check:
        stale = load_artifact().source_digest != source_digest(root)
        print("artifact is stale" if stale else "artifact is up to date")
        return 1 if stale else 0
    artifact = compile_contract(root) if args.force else ensure_artifact(root)
    if args.force:
        write_artifact(artifact)
    for evm_version, code in artifact.bytecodes.items():
        print(f"{artifact.name} ({evm_version}): {len(code) // 2 - 1} bytes, compiler {artifact.compiler}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
