"""`dml store put|get` against a real server and a folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from node.store.cid import cid_of
from testkit.servers import store_server


def dml(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "client.cli", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_put_prints_the_cid_and_get_writes_checked_bytes(tmp_path: Path) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(b"some dataset bytes")
    with store_server(tmp_path / "objects") as (url, _):
        put = dml("store", "put", str(source), "--store", url, "--store", str(tmp_path / "folder"), "--replicas", "2")
        assert put.returncode == 0, put.stderr
        cid = put.stdout.strip()
        assert cid == cid_of(source.read_bytes())
        out = tmp_path / "back.bin"
        got = dml("store", "get", cid, "-o", str(out), "--store", url)
        assert got.returncode == 0, got.stderr
        assert out.read_bytes() == source.read_bytes()
    from_folder = dml("store", "get", cid, "-o", str(tmp_path / "again.bin"), "--store", str(tmp_path / "folder"))
    assert from_folder.returncode == 0
    assert (tmp_path / "again.bin").read_bytes() == source.read_bytes()


def test_errors_are_one_line_with_their_exit_code(tmp_path: Path) -> None:
    bad = dml("store", "get", "not-a-cid", "-o", str(tmp_path / "x"), "--store", str(tmp_path))
    assert bad.returncode == 31
    assert "is not a CID" in bad.stderr
    missing = dml("store", "get", cid_of(b"absent"), "-o", str(tmp_path / "x"), "--store", str(tmp_path))
    assert missing.returncode == 32
    assert "not found" in missing.stderr
    assert not (tmp_path / "x").exists()
