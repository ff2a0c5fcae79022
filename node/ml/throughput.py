"""Training throughput: samples per second of dmlnet's trainer against a plain PyTorch loop on the same model,
batch size and threads (``torch.optim``, no checkpoints, no seeded masks): what a miner gives up to make its work
checkable."""

from __future__ import annotations

import time

import torch

from node.ml import spec as sp
from node.ml.data import Dataset
from node.ml.device import Hardware
from node.ml.model import State, build_module
from node.ml.train import deterministic, loss_of, train_unit


def trainer_rate(spec: sp.TaskSpec, model: State, shard: Dataset, hardware: Hardware) -> float:
    """Samples per second of :func:`node.ml.train.train_unit` (checkpoints and seeded masks included)."""
    began = time.perf_counter()
    train_unit(spec, model, shard, b"throughput", hardware=hardware)
    return spec.training.local_steps * min(spec.training.batch_size, len(shard)) / (time.perf_counter() - began)


def plain_rate(spec: sp.TaskSpec, model: State, shard: Dataset, hardware: Hardware) -> float:
    """Samples per second of the plain loop a PyTorch user would write for the same spec."""
    module = build_module(spec.model, check=False).to(hardware.torch_device)
    module.load_state_dict(model)
    o = spec.training.optimizer
    optimizer: torch.optim.Optimizer = (
        torch.optim.SGD(module.parameters(), lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
        if isinstance(o, sp.SGD)
        else torch.optim.Adam(module.parameters(), lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps)
    )
    batch = min(spec.training.batch_size, len(shard))
    generator = torch.Generator().manual_seed(0)
    module.train()
    with deterministic(hardware.threads):
        began = time.perf_counter()
        for _ in range(spec.training.local_steps):
            index = torch.randint(0, len(shard), (batch,), generator=generator)
            x, y = shard.features(index).to(hardware.torch_device), shard.y[index].to(hardware.torch_device)
            optimizer.zero_grad(set_to_none=True)
            loss_of(spec.training.loss, module(x), y).backward()  # type: ignore[no-untyped-call]
            optimizer.step()
        elapsed = time.perf_counter() - began
    return spec.training.local_steps * batch / elapsed
