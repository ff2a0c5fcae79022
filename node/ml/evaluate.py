"""Test accuracy and loss of a model state on a dataset."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from node.ml import spec as sp
from node.ml.data import Dataset
from node.ml.model import State, build_module


@dataclass(frozen=True, slots=True)
class Evaluation:
    accuracy: float
    loss: float
    samples: int


@torch.no_grad()
def evaluate(model_spec: sp.ModelSpec, state: State, dataset: Dataset, *, batch: int = 1024) -> Evaluation:
    module = build_module(model_spec)
    module.load_state_dict(state, strict=True)
    module.eval()
    correct = 0
    loss_sum = 0.0
    for start in range(0, len(dataset), batch):
        x, y = dataset.features(slice(start, start + batch)), dataset.y[start : start + batch]
        out = module(x)
        if y.is_floating_point():
            loss_sum += float(torch.nn.functional.mse_loss(out.reshape(y.shape), y, reduction="sum"))
        else:
            loss_sum += float(torch.nn.functional.cross_entropy(out, y, reduction="sum"))
            correct += int((out.argmax(dim=1) == y).sum())
    n = len(dataset)
    return Evaluation(accuracy=correct / n, loss=loss_sum / n, samples=n)
