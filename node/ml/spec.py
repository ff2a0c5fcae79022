"""The task spec: a declarative, bounded description of what to train and how to check it.

Only whitelisted layers can be named, every hyper-parameter has bounds, and nothing in a spec is ever imported
or executed. A malformed spec is refused with the path of the bad field and why (see
:func:`node.store.canonical.parse_document`).
"""

from __future__ import annotations

import itertools
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Dim = Annotated[int, Field(ge=1, le=65_536)]


class Linear(_Strict):
    type: Literal["linear"]
    in_features: Dim
    out_features: Dim
    bias: bool = True


class Conv2d(_Strict):
    type: Literal["conv2d"]
    in_channels: Annotated[int, Field(ge=1, le=1024)]
    out_channels: Annotated[int, Field(ge=1, le=1024)]
    kernel_size: Annotated[int, Field(ge=1, le=11)]
    stride: Annotated[int, Field(ge=1, le=4)] = 1
    padding: Annotated[int, Field(ge=0, le=5)] = 0
    bias: bool = True


class ReLU(_Strict):
    type: Literal["relu"]


class GELU(_Strict):
    type: Literal["gelu"]


class Tanh(_Strict):
    type: Literal["tanh"]


class Sigmoid(_Strict):
    type: Literal["sigmoid"]


class Flatten(_Strict):
    type: Literal["flatten"]


class Dropout(_Strict):
    type: Literal["dropout"]
    p: Annotated[float, Field(ge=0.0, le=0.9)]


class MaxPool2d(_Strict):
    type: Literal["maxpool2d"]
    kernel_size: Annotated[int, Field(ge=1, le=8)]
    stride: Annotated[int, Field(ge=1, le=8)] | None = None


class AvgPool2d(_Strict):
    type: Literal["avgpool2d"]
    kernel_size: Annotated[int, Field(ge=1, le=8)]
    stride: Annotated[int, Field(ge=1, le=8)] | None = None


class LayerNorm(_Strict):
    type: Literal["layernorm"]
    normalized_shape: Annotated[list[Dim], Field(min_length=1, max_length=3)]


class BatchNorm1d(_Strict):
    type: Literal["batchnorm1d"]
    num_features: Dim


class BatchNorm2d(_Strict):
    type: Literal["batchnorm2d"]
    num_features: Annotated[int, Field(ge=1, le=1024)]


class Embedding(_Strict):
    """Token ids (the model's input when it is the first layer) to vectors: a language model's first layer."""

    type: Literal["embedding"]
    num_embeddings: Annotated[int, Field(ge=2, le=65_536)]
    embedding_dim: Dim


class PositionalEmbedding(_Strict):
    """A learned vector per position added to a sequence of vectors (``max_length`` positions, ``dim`` wide)."""

    type: Literal["positional_embedding"]
    max_length: Annotated[int, Field(ge=1, le=8192)]
    dim: Dim


def _heads_divide(dim: int, heads: int) -> None:
    if dim % heads:
        raise ValueError(f"dim {dim} is not a multiple of heads {heads}")


class CausalSelfAttention(_Strict):
    """Multi-head self-attention over a sequence (``dim`` wide), each position seeing itself and those before it."""

    type: Literal["causal_self_attention"]
    dim: Annotated[int, Field(ge=1, le=8192)]
    heads: Annotated[int, Field(ge=1, le=64)]
    dropout: Annotated[float, Field(ge=0.0, le=0.9)] = 0.0
    bias: bool = True

    @model_validator(mode="after")
    def _heads(self) -> CausalSelfAttention:
        _heads_divide(self.dim, self.heads)
        return self


class TransformerBlock(_Strict):
    """A pre-norm transformer block: x + attention(layernorm(x)), then x + MLP(layernorm(x)) with a GELU."""

    type: Literal["transformer_block"]
    dim: Annotated[int, Field(ge=1, le=8192)]
    heads: Annotated[int, Field(ge=1, le=64)]
    mlp_hidden: Dim | None = None  # 4 × dim by default
    dropout: Annotated[float, Field(ge=0.0, le=0.9)] = 0.0

    @model_validator(mode="after")
    def _heads(self) -> TransformerBlock:
        _heads_divide(self.dim, self.heads)
        return self

    @property
    def hidden(self) -> int:
        return self.mlp_hidden if self.mlp_hidden is not None else 4 * self.dim


BlockLayer = Annotated[
    Linear
    | Conv2d
    | ReLU
    | GELU
    | Tanh
    | Sigmoid
    | Dropout
    | LayerNorm
    | BatchNorm1d
    | BatchNorm2d
    | CausalSelfAttention
    | TransformerBlock,
    Field(discriminator="type"),
]


class Residual(_Strict):
    """A block of layers whose output is added to its input (the body must keep the input's shape: checked)."""

    type: Literal["residual"]
    layers: Annotated[list[BlockLayer], Field(min_length=1, max_length=16)]


Layer = Annotated[
    Linear
    | Conv2d
    | ReLU
    | GELU
    | Tanh
    | Sigmoid
    | Flatten
    | Dropout
    | MaxPool2d
    | AvgPool2d
    | LayerNorm
    | BatchNorm1d
    | BatchNorm2d
    | Embedding
    | PositionalEmbedding
    | CausalSelfAttention
    | TransformerBlock
    | Residual,
    Field(discriminator="type"),
]


class ModelSpec(_Strict):
    """The layers, applied in order to one sample of ``input_shape`` (a sequence of ``input_shape[0]`` token ids
    when the first layer is an embedding); a linear layer acts on the last axis, so on every position of a
    sequence (the softmax head of a language model is a linear layer to the vocabulary)."""

    input_shape: Annotated[list[Annotated[int, Field(ge=1, le=8192)]], Field(min_length=1, max_length=3)]
    layers: Annotated[list[Layer], Field(min_length=1, max_length=64)]
    max_parameters: Annotated[int, Field(ge=1, le=50_000_000)] = 5_000_000
    # What one training batch may hold in activations (forward values kept for the backward pass), estimated
    # from the shapes before anything is sent: a miner would otherwise learn it from its out-of-memory error.
    max_activation_bytes: Annotated[int, Field(ge=1 << 20, le=64 << 30)] = 4 << 30

    @model_validator(mode="after")
    def _embedding_first(self) -> ModelSpec:
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Embedding) and i != 0:
                raise ValueError(f"layers.{i}: an embedding takes token ids, so only the first layer can be one")
        if isinstance(self.layers[0], Embedding) and len(self.input_shape) != 1:
            raise ValueError("input_shape: a model that starts with an embedding takes [sequence length]")
        return self

    @property
    def takes_tokens(self) -> bool:
        """Whether a sample is a sequence of token ids (the first layer is an embedding)."""
        return isinstance(self.layers[0], Embedding)

    @property
    def family(self) -> str:
        """The kind of architecture, by the layers it has: ``transformer``, ``resnet`` (convolutions and residual
        blocks), ``cnn``, ``residual`` (an MLP with residual blocks) or ``mlp``."""
        kinds = {layer.type for layer in self.layers} | {
            inner.type for layer in self.layers if isinstance(layer, Residual) for inner in layer.layers
        }
        if kinds & {"causal_self_attention", "transformer_block", "embedding"}:
            return "transformer"
        if "conv2d" in kinds:
            return "resnet" if "residual" in kinds else "cnn"
        return "residual" if "residual" in kinds else "mlp"


class SGD(_Strict):
    type: Literal["sgd"]
    lr: Annotated[float, Field(gt=0.0, le=10.0)]
    momentum: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    weight_decay: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    nesterov: bool = False

    @model_validator(mode="after")
    def _nesterov_needs_momentum(self) -> SGD:
        if self.nesterov and self.momentum == 0.0:
            raise ValueError("nesterov needs a momentum above 0")
        return self


class Adam(_Strict):
    type: Literal["adam"]
    lr: Annotated[float, Field(gt=0.0, le=1.0)]
    beta1: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.9
    beta2: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.999
    eps: Annotated[float, Field(gt=0.0, le=1.0)] = 1e-8
    weight_decay: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0


Optimizer = Annotated[SGD | Adam, Field(discriminator="type")]


class TrainingSpec(_Strict):
    loss: Literal["cross_entropy", "mse"]
    optimizer: Optimizer
    batch_size: Annotated[int, Field(ge=1, le=4096)]
    local_steps: Annotated[int, Field(ge=1, le=100_000)]
    checkpoint_every: Annotated[int, Field(ge=1, le=100_000)]

    @model_validator(mode="after")
    def _checkpoints_fit(self) -> TrainingSpec:
        if self.checkpoint_every > self.local_steps:
            raise ValueError("checkpoint_every cannot exceed local_steps")
        if self.local_steps // self.checkpoint_every > 1000:
            raise ValueError("at most 1000 checkpoints per unit: raise checkpoint_every")
        return self

    @property
    def checkpoint_steps(self) -> list[int]:
        """Steps at which the trail has a checkpoint: 0, k, 2k, …, and the last step."""
        steps = list(range(0, self.local_steps, self.checkpoint_every))
        return [*steps, self.local_steps]


# The tolerance a spec gets when it names none, per model family and optimizer: calibrated with
# ``dml spec calibrate`` on the built-in workloads (BENCHMARKS.md's calibration table: above the largest honest
# cross-thread and fast-kernel distance, below the smallest distance of the cheapest cheats, with a margin each side).
CALIBRATED_TOLERANCE: dict[str, float] = {
    "mlp/sgd": 1e-4,
    "mlp/adam": 1e-4,
    "cnn/sgd": 5e-4,
    "cnn/adam": 1e-4,
    "resnet/sgd": 3.5e-3,
    "resnet/adam": 3.5e-3,
    "residual/sgd": 1e-4,
    "residual/adam": 1e-4,
    "transformer/sgd": 3e-5,
    "transformer/adam": 3e-5,
}


class VerificationSpec(_Strict):
    segments: Annotated[int, Field(ge=1, le=64)] = 2
    # None: the calibrated value for the model's family (TaskSpec.tolerance).
    tolerance: Annotated[float, Field(gt=0.0, le=0.1)] | None = None


class FedAvg(_Strict):
    rule: Literal["fedavg"]


class MultiKrum(_Strict):
    rule: Literal["multikrum"]
    f: Annotated[int, Field(ge=0, le=100)] = 1
    m: Annotated[int, Field(ge=1, le=1000)] = 1


class Median(_Strict):
    rule: Literal["median"]


class TrimmedMean(_Strict):
    rule: Literal["trimmed_mean"]
    beta: Annotated[float, Field(ge=0.0, lt=0.5)] = 0.1


AggregationRule = Annotated[FedAvg | MultiKrum | Median | TrimmedMean, Field(discriminator="rule")]


class GlobalModelSpec(_Strict):
    """CRFL-style smoothing of the aggregate: clip its parameters' norm, then add Gaussian noise."""

    clip_norm: Annotated[float, Field(gt=0.0, le=1e6)] | None = None
    noise_std: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0


class DatasetSpec(_Strict):
    digest: Annotated[str, Field(pattern=r"^(0x)?[0-9a-f]{64}$|^b[a-z2-7]{58}$")]
    shards: Annotated[int, Field(ge=1, le=1000)]
    shard_seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    holdout_fraction: Annotated[float, Field(ge=0.0, le=0.5)] = 0.2
    num_classes: Annotated[int, Field(ge=1, le=100_000)] | None = None


PARAMETRISED = (
    Linear,
    Conv2d,
    LayerNorm,
    BatchNorm1d,
    BatchNorm2d,
    Embedding,
    PositionalEmbedding,
    CausalSelfAttention,
    TransformerBlock,
    Residual,
)


class PrivacySpec(_Strict):
    """Split mode keeps the first ``private_prefix`` and the last ``private_suffix`` parametrised layers with the
    owner (with the layers without parameters that follow each); the network trains only the middle."""

    mode: Literal["none", "split"] = "none"
    private_prefix: Annotated[int, Field(ge=0, le=64)] = 0
    private_suffix: Annotated[int, Field(ge=0, le=64)] = 0
    # Where the owner's node serves the step protocol (``dml node run --roles owner``); a task in split mode
    # needs it, since a miner cannot train a step without the owner's side.
    owner_url: Annotated[str, Field(pattern=r"^https?://[^\s/]+(/[^\s]*)?$", max_length=200)] | None = None

    @model_validator(mode="after")
    def _counts_fit_the_mode(self) -> PrivacySpec:
        if self.mode == "none" and (self.private_prefix or self.private_suffix or self.owner_url):
            raise ValueError('private_prefix, private_suffix and owner_url need mode "split"')
        if self.mode == "split" and not (self.private_prefix or self.private_suffix):
            raise ValueError("split mode keeps at least one layer private: set private_prefix or private_suffix")
        return self


class TaskSpec(_Strict):
    """Everything a miner needs to train a unit and a verifier needs to check it."""

    version: Literal[1] = 1
    model: ModelSpec
    training: TrainingSpec
    verification: VerificationSpec = VerificationSpec()
    aggregation: AggregationRule = FedAvg(rule="fedavg")
    global_model: GlobalModelSpec = GlobalModelSpec()
    dataset: DatasetSpec
    max_checkpoint_bytes: Annotated[int, Field(ge=1024, le=1 << 30)] = 64 << 20
    privacy: PrivacySpec = PrivacySpec()

    @property
    def family(self) -> str:
        """The model's family and the optimizer, the key of :data:`CALIBRATED_TOLERANCE` (``transformer/adam``)."""
        return f"{self.model.family}/{self.training.optimizer.type}"

    @property
    def tolerance(self) -> float:
        """The relative distance a re-executed segment may land from its claimed checkpoint: the spec's own, or
        the calibrated one of its family."""
        explicit = self.verification.tolerance
        return explicit if explicit is not None else CALIBRATED_TOLERANCE[self.family]

    @model_validator(mode="after")
    def _split_that_makes_sense(self) -> TaskSpec:
        if self.privacy.mode != "split":
            return self
        if self.privacy.owner_url is None:
            raise ValueError(
                "privacy.owner_url: split mode needs the URL of the owner's node (dml node run --roles owner)"
            )
        # The cut itself (a public middle, the owner's share of the compute) needs the model's arithmetic: checked
        # where every spec comes in, node.ml.spec_check, so that this schema never imports torch.
        return self

    @model_validator(mode="after")
    def _no_unverifiable_bias(self) -> TaskSpec:
        # A bias right before a batch norm has a zero gradient in exact arithmetic; Adam divides the rounding
        # noise by its own tiny magnitude and turns it into full-size steps that differ between machines and
        # thread counts, so honest work would fail verification. Such a bias is redundant: refuse it.
        if isinstance(self.training.optimizer, Adam):
            layers = self.model.layers
            for i, (layer, following) in enumerate(itertools.pairwise(layers)):
                if (
                    isinstance(layer, Linear | Conv2d)
                    and layer.bias
                    and isinstance(following, BatchNorm1d | BatchNorm2d)
                ):
                    raise ValueError(
                        f"model.layers.{i}: set bias to false before a batch norm when training with adam "
                        "(the bias is redundant and its updates are not reproducible)"
                    )
        return self

    @model_validator(mode="after")
    def _rule_fits_the_shards(self) -> TaskSpec:
        rule = self.aggregation
        if isinstance(rule, MultiKrum) and (2 * rule.f + 2 >= self.dataset.shards or rule.m > self.dataset.shards):
            raise ValueError("multikrum needs shards > 2f + 2 and m ≤ shards")
        return self
