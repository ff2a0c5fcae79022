"""A model state's quality on a dataset, as its task's kind measures it: accuracy for classification, mean squared
error for regression, validation loss and perplexity for a language model (and its next-token accuracy)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from node.ml import spec as sp
from node.ml.data import Dataset
from node.ml.model import State, build_module

Kind = Literal["classification", "regression", "language"]


def kind_of(dataset: Dataset) -> Kind:
    if dataset.tokens:
        return "language"
    return "regression" if dataset.y.is_floating_point() else "classification"


@dataclass(frozen=True, slots=True)
class Evaluation:
    accuracy: float  # of the classes, or of the next token at every position of a language model's sequences
    loss: float  # mean per sample (per token for a language model)
    samples: int
    kind: Kind = "classification"

    @property
    def perplexity(self) -> float:
        """exp(loss): a language model's figure (how many tokens it hesitates between)."""
        return math.exp(min(self.loss, 700.0))

    @property
    def headline(self) -> tuple[str, float]:
        """The figure a task of this kind is judged by: accuracy, or validation loss."""
        return ("accuracy", self.accuracy) if self.kind == "classification" else ("loss", self.loss)

    def summary(self) -> str:
        """One phrase: ``accuracy 0.912`` or ``validation loss 2.104 (perplexity 8.20)``."""
        if self.kind == "language":
            return f"validation loss {self.loss:.4f} (perplexity {self.perplexity:.2f})"
        if self.kind == "regression":
            return f"mse {self.loss:.4g}"
        return f"accuracy {self.accuracy:.4f}"


def metric_name(figure: Evaluation) -> str:
    """What :attr:`Evaluation.headline` measures, as a column title: ``accuracy``, ``validation loss`` or ``mse``."""
    return {"classification": "accuracy", "language": "validation loss", "regression": "mse"}[figure.kind]


@torch.no_grad()
def evaluate(model_spec: sp.ModelSpec, state: State, dataset: Dataset, *, batch: int = 1024) -> Evaluation:
    module = build_module(model_spec)
    module.load_state_dict(state, strict=True)
    module.eval()
    kind = kind_of(dataset)
    correct = 0
    loss_sum = 0.0
    if kind == "language":
        batch = max(1, batch // max(1, dataset.x.shape[1] // 8))  # a sequence's logits are length × vocabulary
    for start in range(0, len(dataset), batch):
        x, y = dataset.features(slice(start, start + batch)), dataset.y[start : start + batch]
        out = module(x)
        if kind == "regression":
            loss_sum += float(torch.nn.functional.mse_loss(out.reshape(y.shape), y, reduction="sum"))
        else:
            logits = out.flatten(0, -2)
            loss_sum += float(torch.nn.functional.cross_entropy(logits, y.flatten(), reduction="sum"))
            correct += int((logits.argmax(dim=1) == y.flatten()).sum())
    n = len(dataset) if kind != "language" else dataset.y.numel()
    return Evaluation(accuracy=correct / n, loss=loss_sum / n, samples=len(dataset), kind=kind)
