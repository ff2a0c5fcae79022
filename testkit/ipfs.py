"""Real IPFS implementations from npm (Helia, ipfs-car), driven through the scripts in tools/ipfs/."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from node.store.multiformats import Cid, parse
from node.store.unixfs import root_codec

ROOT = Path(__file__).resolve().parent.parent
NODE = ROOT / "node_modules" / ".bin" / "node"  # npm's Node 22: Helia's HTTP client needs it


def run_script(name: str, *args: str, timeout_s: float = 600) -> dict[str, Any]:
    """Runs tools/ipfs/NAME with Node and returns the JSON document it prints last."""
    done = subprocess.run(
        [str(NODE), str(ROOT / "tools" / "ipfs" / name), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{name} exited with {done.returncode}: {done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def ipfs_cids(files: list[Path], *, chunk: int | None = None, links: int | None = None) -> dict[str, dict[str, Any]]:
    """{file: {"helia": CID, "car": CID or None}}: what Helia's addBytes and ipfs-car pack name each file."""
    extra = [] if chunk is None else ["--chunk", str(chunk), "--links", str(links)]
    return run_script("cids.mjs", *extra, *map(str, files))


def helia_fetch(gateway: str, out_dir: Path, cids: list[str]) -> dict[str, int]:
    """Fetches each CID from a trustless gateway with Helia (written to out_dir/CID); their sizes."""
    return {k: int(v) for k, v in run_script("helia-fetch.mjs", gateway, str(out_dir), *cids)["fetched"].items()}


def object_cids(folder: Path) -> list[str]:
    """The CID of every object whose root block a store folder holds (a leaf of a larger object is an object too)."""
    out = []
    for path in sorted(folder.glob("*/*/bafk*")):
        block = path.read_bytes()
        out.append(str(Cid(root_codec(block), parse(path.name).digest)))
    return out
