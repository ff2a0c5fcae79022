"""The small split task the split tests share: one private conv (with its pooling and flatten), a public middle
with dropout, one private linear."""

from __future__ import annotations

import torch

from node.ml import spec as sp
from node.ml.data import Dataset
from node.ml.split import plan_split

SPEC = sp.TaskSpec.model_validate(
    {
        "model": {
            "input_shape": [1, 8, 8],
            "layers": [
                {"type": "conv2d", "in_channels": 1, "out_channels": 8, "kernel_size": 3, "padding": 1},
                {"type": "relu"},
                {"type": "maxpool2d", "kernel_size": 2},
                {"type": "flatten"},
                {"type": "linear", "in_features": 128, "out_features": 64},
                {"type": "relu"},
                {"type": "dropout", "p": 0.2},
                {"type": "linear", "in_features": 64, "out_features": 10},
            ],
        },
        "training": {"loss": "cross_entropy", "optimizer": {"type": "sgd", "lr": 0.05, "momentum": 0.9},
                     "batch_size": 16, "local_steps": 12, "checkpoint_every": 4},
        "dataset": {"digest": "00" * 32, "shards": 1},
    }
)  # fmt: skip
PLAN = plan_split(SPEC.model, sp.PrivacySpec(mode="split", private_prefix=1, private_suffix=1))
SEED = b"\x05" * 32


def shard() -> Dataset:
    g = torch.Generator().manual_seed(11)
    return Dataset(torch.randn(100, 1, 8, 8, generator=g), torch.randint(0, 10, (100,), generator=g))
