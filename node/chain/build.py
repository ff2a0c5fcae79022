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
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from node.errors import ToolchainError

log = logging.getLogger(__name__)

CONTRACT = "TaskMarket"
# Its views live in a second contract that its fallback runs on its storage: their ABI joins the market's, since
# the market's address answers them.
VIEWS_CONTRACT = "TaskMarketViews"
ARTIFACT_NAME = "TaskMarket.json"
SOURCE_DIR = Path("contracts") / "src"
OZ_REMAPPING = "@openzeppelin/contracts/=node_modules/@openzeppelin/contracts/"
# Keep in step with foundry.toml so forge, slither and the nodes run the same bytecode.
SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    # Same as foundry.toml: the IR pipeline keeps TaskMarket under EIP-170's 24,576 bytes of runtime code.
    "viaIR": True,
    "evmVersion": "cancun",
    "metadata": {"bytecodeHash": "none"},
    "remappings": [OZ_REMAPPING],
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}


@dataclass(frozen=True, slots=True)
class Artifact:
    """A compiled contract as the nodes need it."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    source_digest: str
    compiler: str

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
    for path in sorted((root / SOURCE_DIR).rglob("*.sol")):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    oz_package = root / "node_modules" / "@openzeppelin" / "contracts" / "package.json"
    lock = root / "package-lock.json"
    if oz_package.exists():
        h.update(json.loads(oz_package.read_text())["version"].encode())
    elif lock.exists():
        packages = json.loads(lock.read_text()).get("packages", {})
        h.update(packages.get("node_modules/@openzeppelin/contracts", {}).get("version", "").encode())
    h.update(json.dumps(SETTINGS, sort_keys=True).encode())
    return h.hexdigest()


def solc_command(root: Path) -> Path:
    """Our solc-compatible command (it prefers a native solc 0.8.30 itself)."""
    path = root / "tools" / "solc"
    if not path.exists():
        raise ToolchainError(f"{path} is missing: run from a dmlnet checkout")
    return path


def compile_contract(root: Path) -> Artifact:
    """Compile ``TaskMarket`` through py-solc-x's standard-JSON interface."""
    import solcx  # only builders need it

    sources = {
        path.relative_to(root).as_posix(): {"content": path.read_text()}
        for path in sorted((root / SOURCE_DIR).rglob("*.sol"))
    }
    if not (root / "node_modules" / "@openzeppelin" / "contracts").exists():
        raise ToolchainError("node_modules/@openzeppelin/contracts is missing: run `npm ci`")
    solc = solc_command(root)
    try:
        output = solcx.compile_standard(
            {"language": "Solidity", "sources": sources, "settings": SETTINGS},
            base_path=str(root),
            allow_paths=[str(root)],
            solc_binary=str(solc),
        )
        version = _version(solc)
    except solcx.exceptions.SolcError as err:
        raise ToolchainError(f"solc failed: {err}") from err
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise ToolchainError("solc: " + "; ".join(e.get("formattedMessage", e["message"]) for e in errors))
    contract = output["contracts"][f"{SOURCE_DIR.as_posix()}/{CONTRACT}.sol"][CONTRACT]
    views = output["contracts"][f"{SOURCE_DIR.as_posix()}/{VIEWS_CONTRACT}.sol"][VIEWS_CONTRACT]
    return Artifact(
        name=CONTRACT,
        abi=market_abi(contract["abi"], views["abi"]),
        bytecode="0x" + contract["evm"]["bytecode"]["object"],
        source_digest=source_digest(root),
        compiler=version,
    )


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
        "bytecode": artifact.bytecode,
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
    return Artifact(
        name=document["name"],
        abi=document["abi"],
        bytecode=document["bytecode"],
        source_digest=document["sourceDigest"],
        compiler=document["compiler"],
    )


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
    print(f"{artifact.name}: {len(artifact.bytecode) // 2 - 1} bytes, compiler {artifact.compiler}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
