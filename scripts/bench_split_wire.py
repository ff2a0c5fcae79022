"""What a step of split training costs on the wire and in time: bytes of the four messages, encode/decode time,
and the whole step over HTTP (the owner's service in process, through the real HTTP stack) against the same step
computed in one process, for the digits CNN cut after its first conv (stem + head private).

    python -m scripts.bench_split_wire
"""

from __future__ import annotations

import statistics
import time

import torch
from eth_account import Account
from fastapi.testclient import TestClient

from node.ml import spec as sp
from node.ml.data import Dataset
from node.ml.defaults import digits_cnn_model
from node.ml.model import build_module, state_of
from node.ml.split import plan_split
from node.ml.split_unit import OwnerUnit, middle_of, train_middle
from node.ml.split_wire import Kind, decode, encode
from node.protocol.owner_client import HttpTransport
from node.protocol.owner_service import create_owner_app
from node.protocol.step_auth import Binding
from scripts.benchlib import emit, print_table

STEPS = 40
SPEC = sp.TaskSpec(
    model=digits_cnn_model(),
    training=sp.TrainingSpec.model_validate(
        {"loss": "cross_entropy", "optimizer": {"type": "sgd", "lr": 0.05, "momentum": 0.9}, "batch_size": 32,
         "local_steps": STEPS, "checkpoint_every": 10}
    ),
    dataset=sp.DatasetSpec(digest="00" * 32, shards=1),
)  # fmt: skip


def _median_us(action: object, runs: int = 200) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def main() -> None:
    plan = plan_split(SPEC.model, sp.PrivacySpec(mode="split", private_prefix=1, private_suffix=1))
    g = torch.Generator().manual_seed(0)
    shard = Dataset(torch.randn(400, 1, 8, 8, generator=g), torch.randint(0, 10, (400,), generator=g))
    initial = state_of(build_module(SPEC.model, seed=0))
    seed = b"\x01" * 32
    batch = SPEC.training.batch_size
    shapes = {
        Kind.ACTIVATIONS: (batch, *plan.cut_in),
        Kind.OUTPUT: (batch, *plan.cut_out),
        Kind.GRADIENT_OUT: (batch, *plan.cut_out),
        Kind.GRADIENT_IN: (batch, *plan.cut_in),
    }
    rows = []
    step_bytes = 0
    for kind, shape in shapes.items():
        tensor = torch.randn(*shape)
        message = encode(kind, 1, tensor)
        step_bytes += len(message)
        rows.append(
            (kind.value, "×".join(map(str, shape)), len(message),
             round(_median_us(lambda k=kind, t=tensor: encode(k, 1, t))),
             round(_median_us(lambda k=kind, m=message, s=shape: decode(m, k, 1, s)))),
        )  # fmt: skip
    print(f"Messages of one step (batch {batch}, cut after the first conv and before the last linear)")
    print_table(["message", "shape", "bytes", "encode µs", "decode µs"], rows)

    start = time.perf_counter()
    owner = OwnerUnit(SPEC, plan, initial, shard, seed)
    train_middle(SPEC, plan, middle_of(SPEC, plan, initial), owner, seed, len(shard))
    in_process = (time.perf_counter() - start) / STEPS
    miner = Account.from_key("0x" + "11" * 32)
    binding = Binding(31337, "0x" + "ab" * 20)
    app = create_owner_app(binding, lambda *_: OwnerUnit(SPEC, plan, initial, shard, seed))
    transport = HttpTransport("http://testserver", miner, binding, (1, 0, 0), client=TestClient(app))
    start = time.perf_counter()
    train_middle(SPEC, plan, middle_of(SPEC, plan, initial), transport, seed, len(shard))
    over_http = (time.perf_counter() - start) / STEPS
    print()
    print_table(
        ["step of split training", "ms"],
        [
            ("both sides in one process", round(in_process * 1e3, 2)),
            ("over HTTP (signed, in-process server)", round(over_http * 1e3, 2)),
        ],
    )
    emit(
        "split_wire",
        {
            "bytes_per_step": step_bytes,
            "step_ms_in_process": round(in_process * 1e3, 3),
            "step_ms_over_http": round(over_http * 1e3, 3),
            "http_overhead_ratio": round(over_http / in_process, 2),
            "batch_size": batch,
            "owner_share": round(plan.owner_share, 3),
        },
    )


if __name__ == "__main__":
    main()
