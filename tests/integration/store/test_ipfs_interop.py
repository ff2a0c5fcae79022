"""The store against real IPFS implementations from npm: Helia (@helia/unixfs, its trustless-gateway client) and
ipfs-car. The same CIDs for the same bytes, Helia fetching from a running store server, CARs both ways."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from node.store.car import read_car
from node.store.cid import cid_of
from node.store.client import HttpReplica, StoreClient
from node.store.multiformats import DAG_PB, Cid, parse
from node.store.unixfs import CHUNK_SIZE, Builder
from testkit.ipfs import ROOT, helia_fetch, ipfs_cids
from testkit.servers import store_server

SIZES = {"0B": 0, "1B": 1, "chunk-1": CHUNK_SIZE - 1, "chunk": CHUNK_SIZE, "chunk+1": CHUNK_SIZE + 1}
SIZES |= {"5MB": 5_000_000, "50MB": 50_000_000}
IPFS_CAR = ROOT / "node_modules" / ".bin" / "ipfs-car"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sizes")
    out = {}
    for name, size in SIZES.items():
        path = folder / name
        path.write_bytes(os.urandom(size))
        out[name] = path
    return out


def test_every_size_has_the_cid_helia_and_ipfs_car_compute(files: dict[str, Path]) -> None:
    theirs = ipfs_cids(list(files.values()))
    for name, path in files.items():
        ours = cid_of(path.read_bytes())
        assert theirs[str(path)] == {"helia": ours, "car": ours}, name
    assert parse(cid_of(files["chunk"].read_bytes())).codec_name == "raw"
    assert parse(cid_of(files["chunk+1"].read_bytes())).codec == DAG_PB


def test_a_deep_tree_has_the_cid_helia_computes(tmp_path: Path) -> None:
    """Three levels of nodes (1 KB chunks, 4 links a node): the balanced layout above one node, on small bytes."""
    path = tmp_path / "deep"
    path.write_bytes(os.urandom(70 * 1000 + 17))
    builder = Builder(lambda _cid, _block: None, chunk_size=1000, max_links=4)
    builder.write(path.read_bytes())
    assert ipfs_cids([path], chunk=1000, links=4)[str(path)]["helia"] == str(builder.finish().root)


def test_helia_fetches_every_size_from_a_store_server_by_cid(files: dict[str, Path], tmp_path: Path) -> None:
    with store_server(tmp_path / "store") as (url, _):
        client = StoreClient([HttpReplica(url)])
        cids = {name: client.put_file(path) for name, path in files.items()}
        out = tmp_path / "fetched"
        out.mkdir()
        sizes = helia_fetch(url, out, list(cids.values()))
    for name, cid in cids.items():
        assert sizes[cid] == SIZES[name], name
        assert (out / cid).read_bytes() == files[name].read_bytes(), name


def test_the_gateway_serves_blocks_and_cars_with_the_specs_headers(files: dict[str, Path], tmp_path: Path) -> None:
    data = files["5MB"].read_bytes()
    with store_server(tmp_path / "store") as (url, _):
        cid = StoreClient([HttpReplica(url)]).put_file(files["5MB"])
        raw = httpx.get(f"{url}/ipfs/{cid}?format=raw")
        assert raw.status_code == 200
        assert raw.headers["content-type"] == "application/vnd.ipld.raw"
        assert raw.headers["x-content-type-options"] == "nosniff"
        assert raw.headers["etag"] == f'"{cid}.raw"'
        assert "immutable" in raw.headers["cache-control"]
        assert Cid(DAG_PB, hashlib.sha256(raw.content).digest()) == parse(cid)
        by_accept = httpx.get(f"{url}/ipfs/{cid}", headers={"Accept": "application/vnd.ipld.raw"})
        assert by_accept.content == raw.content
        car = httpx.get(f"{url}/ipfs/{cid}?format=car")
        assert car.status_code == 200
        assert car.headers["content-type"].startswith("application/vnd.ipld.car; version=1")
        roots, blocks = read_car(io.BytesIO(car.content))
        listed = list(blocks)
        assert roots == [parse(cid)]
        assert listed[0][0] == parse(cid)  # DAG order: the root first, then its leaves in file order
        assert b"".join(block for c, block in listed[1:]) == data
        only_root = httpx.get(f"{url}/ipfs/{cid}", params={"format": "car", "dag-scope": "block"})
        assert len(list(read_car(io.BytesIO(only_root.content))[1])) == 1
        v0 = str(Cid(DAG_PB, parse(cid).digest, version=0))
        assert v0.startswith("Qm")
        assert httpx.get(f"{url}/ipfs/{v0}").content == data  # a CIDv0 names the same object
        assert httpx.get(f"{url}/ipfs/{cid}?format=tar").status_code == 400
        head = httpx.head(f"{url}/ipfs/{cid}?format=raw")
        assert head.status_code == 200
        assert int(head.headers["content-length"]) == len(raw.content)
        assert httpx.get(f"{url}/ipfs/{cid_of(b'absent')}?format=raw").status_code == 404


def test_cars_go_both_ways_with_ipfs_car(files: dict[str, Path], tmp_path: Path) -> None:
    store = tmp_path / "store"

    def dml(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "client.cli", "store", *args, "--store", str(store)],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    cid = dml("put", str(files["5MB"])).strip()
    exported = tmp_path / "object.car"
    dml("export", cid, "-o", str(exported))
    subprocess.run([IPFS_CAR, "unpack", str(exported), "--output", str(tmp_path / "unpacked")], check=True)
    assert (tmp_path / "unpacked").read_bytes() == files["5MB"].read_bytes()
    packed = tmp_path / "packed.car"
    subprocess.run([IPFS_CAR, "pack", str(files["50MB"]), "--no-wrap", "--output", str(packed)], check=True)
    imported = dml("import", str(packed)).strip()
    assert imported == cid_of(files["50MB"].read_bytes())
    dml("get", imported, "-o", str(tmp_path / "back"))
    assert (tmp_path / "back").read_bytes() == files["50MB"].read_bytes()
    # The same CAR into a running store server (PUT with the CAR's media type), read back over HTTP.
    with store_server(tmp_path / "served", max_bytes=1 << 30) as (url, _):
        done = subprocess.run(
            [sys.executable, "-m", "client.cli", "store", "import", str(packed), "--store", url],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip() == imported
        assert StoreClient([HttpReplica(url)]).get(imported) == files["50MB"].read_bytes()
