"""Store throughput over loopback HTTP against reading and hashing the same file once, and memory held.

For 256 MB and 2 GB objects (by default): PUT and GET through a real `dml store serve` process with the
replicating client (a PUT encodes the file as UnixFS blocks to name it, and the server encodes and checks it again
as it writes each block; a GET reads the object's CAR stream, checking every block against its CID, and writes the
object to a file), next to a plain read of the same file, a read that also hashes it (the goal's yardstick), and a
read that hashes and writes a copy beside it (what any store that keeps the bytes on this disk costs at least),
from the page cache (warm, as the server's own reads are), in the same run. Each figure is the median of 3 runs. A
fresh server per size gives its peak RSS (VmHWM) for that size; the client's peak is this process's. ``--dir``
puts the files and the server's blocks elsewhere (``/dev/shm``: the store's own cost, without the disk's).

    python -m scripts.bench_store [--sizes 256,2048] [--dir PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from node.store.client import HttpReplica, StoreClient
from node.store.local import CHUNK
from scripts.benchlib import emit, peak_rss_mb, print_table
from testkit.servers import store_server

MB = 1024 * 1024


def _median_seconds(fn: Callable[[], object], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _read_file(path: Path) -> None:
    with path.open("rb") as f:
        while f.read(CHUNK):
            pass


def _read_and_hash(path: Path) -> None:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)


def _copy_and_hash(path: Path, target: Path) -> None:
    h = hashlib.sha256()
    with path.open("rb") as f, target.open("wb") as out:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            out.write(chunk)


def bench_size(size_mb: int, workdir: Path) -> dict[str, float]:
    source = workdir / f"object-{size_mb}.bin"
    with source.open("wb") as f:
        block = os.urandom(MB)
        for i in range(size_mb):
            f.write(block[i % 13 :] + block[: i % 13])
    _read_file(source)  # warm the page cache, as it is for the server's reads
    disk_s = _median_seconds(lambda: _read_file(source))
    disk_hash_s = _median_seconds(lambda: _read_and_hash(source))
    copy = workdir / f"copy-{size_mb}.bin"
    copy_s = _median_seconds(lambda: _copy_and_hash(source, copy))
    copy.unlink()
    with store_server(workdir / f"objects-{size_mb}", max_bytes=2 * size_mb * MB) as (url, process):
        client = StoreClient([HttpReplica(url, timeout_s=300)])
        put_s = _median_seconds(lambda: client.put_file(source))
        cid = client.put_file(source)
        target = workdir / f"back-{size_mb}.bin"
        get_s = _median_seconds(lambda: client.get_to_file(cid, target))
        peak = peak_rss_mb(process.pid)
    for path in (source, target):
        path.unlink(missing_ok=True)
    return {
        "size_mb": size_mb,
        "disk_mb_s": size_mb / disk_s,
        "disk_hash_mb_s": size_mb / disk_hash_s,
        "put_mb_s": size_mb / put_s,
        "get_mb_s": size_mb / get_s,
        "get_ratio_to_disk": disk_s / get_s,
        "get_ratio_to_disk_hash": disk_hash_s / get_s,
        "server_peak_rss_mb": peak,
        "client_peak_rss_mb": peak_rss_mb(),
        "put_ratio_to_disk_hash": disk_hash_s / put_s,
        "copy_mb_s": size_mb / copy_s,
        "put_ratio_to_copy": copy_s / put_s,
        "get_ratio_to_copy": copy_s / get_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="256,2048", help="object sizes in MB, comma-separated")
    parser.add_argument("--dir", type=Path, help="where the files and the server's blocks go (default: the temp dir)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-store-", dir=args.dir) as tmp:
        results = [bench_size(size, Path(tmp)) for size in sizes]
    print_table(
        [
            "size MB", "disk MB/s", "disk+sha256 MB/s", "copy+sha256 MB/s", "PUT MB/s", "GET MB/s",
            "PUT/(disk+hash)", "GET/(disk+hash)", "PUT/copy", "GET/copy", "server peak RSS MB", "client peak RSS MB",
        ],
        [
            (
                r["size_mb"], r["disk_mb_s"], r["disk_hash_mb_s"], r["copy_mb_s"], r["put_mb_s"], r["get_mb_s"],
                r["put_ratio_to_disk_hash"], r["get_ratio_to_disk_hash"], r["put_ratio_to_copy"],
                r["get_ratio_to_copy"], r["server_peak_rss_mb"], r["client_peak_rss_mb"],
            )
            for r in results
        ],
    )  # fmt: skip
    figures: dict[str, float | str] = {"dir": str(args.dir or tempfile.gettempdir())}
    for r in results:
        tag = f"{int(r['size_mb'])}mb"
        figures[f"get_ratio_to_disk_{tag}"] = round(r["get_ratio_to_disk"], 4)
        figures[f"get_ratio_to_disk_hash_{tag}"] = round(r["get_ratio_to_disk_hash"], 4)
        figures[f"put_mb_s_{tag}"] = round(r["put_mb_s"], 1)
        figures[f"get_mb_s_{tag}"] = round(r["get_mb_s"], 1)
        figures[f"put_ratio_to_disk_hash_{tag}"] = round(r["put_ratio_to_disk_hash"], 4)
        figures[f"put_ratio_to_copy_{tag}"] = round(r["put_ratio_to_copy"], 4)
        figures[f"get_ratio_to_copy_{tag}"] = round(r["get_ratio_to_copy"], 4)
        figures[f"copy_mb_s_{tag}"] = round(r["copy_mb_s"], 1)
        figures[f"server_peak_rss_mb_{tag}"] = round(r["server_peak_rss_mb"], 1)
        figures[f"client_peak_rss_mb_{tag}"] = round(r["client_peak_rss_mb"], 1)
    emit("store", figures)


if __name__ == "__main__":
    main()
