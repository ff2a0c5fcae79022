"""The built-in tasks: handwritten digits with a small MLP (the default of the CLI and the demo), and Fashion-MNIST
with a small CNN."""

from __future__ import annotations

from node.ml import spec as sp
from node.ml.spec_check import spec_from


def digits_cnn_model(*, conv: tuple[int, int] = (16, 32), hidden: int = 64) -> sp.ModelSpec:
    """A CNN on 8×8 digits (conv-pool-conv-pool-fc-fc): a model whose bulk is its middle, so split mode can keep
    its first conv and last linear private (the MLP's first layer is most of its compute)."""
    c1, c2 = conv
    return sp.ModelSpec.model_validate(
        {
            "input_shape": [1, 8, 8],
            "layers": [
                {"type": "conv2d", "in_channels": 1, "out_channels": c1, "kernel_size": 3, "padding": 1},
                {"type": "relu"},
                {"type": "maxpool2d", "kernel_size": 2},
                {"type": "conv2d", "in_channels": c1, "out_channels": c2, "kernel_size": 3, "padding": 1},
                {"type": "relu"},
                {"type": "maxpool2d", "kernel_size": 2},
                {"type": "flatten"},
                {"type": "linear", "in_features": c2 * 4, "out_features": hidden},
                {"type": "relu"},
                {"type": "linear", "in_features": hidden, "out_features": 10},
            ],
        }
    )


def digits_spec(
    *,
    dataset_digest: str,
    shards: int = 4,
    local_steps: int = 800,
    checkpoint_every: int = 8,
    segments: int = 2,
    hidden: int = 64,
    lr: float = 0.05,
    aggregation: str = "fedavg",
    cnn: bool = False,
    owner_url: str | None = None,
) -> sp.TaskSpec:
    """An MLP on 8×8 digits. With 800 local steps checkpointed every 8, a verifier re-executing the anchor
    segment and 2 drawn ones redoes 24 of the miner's 800 steps (3%); the rest of its cost is fetching and
    loading their checkpoints.

    ``cnn``: the digits CNN (:func:`digits_cnn_model`) instead. ``owner_url``: split mode, on the CNN, with its first
    conv and last linear kept by the owner's node at that URL (the MLP's first layer is most of its compute: no
    split of it fits)."""
    model: dict[str, object] = {
        "input_shape": [1, 8, 8],
        "layers": [
            {"type": "flatten"},
            {"type": "linear", "in_features": 64, "out_features": hidden},
            {"type": "relu"},
            {"type": "dropout", "p": 0.1},
            {"type": "linear", "in_features": hidden, "out_features": 10},
        ],
    }
    privacy: dict[str, object] = {"mode": "none"}
    if cnn or owner_url is not None:
        model = digits_cnn_model(hidden=hidden).model_dump()
    if owner_url is not None:
        privacy = {"mode": "split", "private_prefix": 1, "private_suffix": 1, "owner_url": owner_url}
    document = {
        "model": model,
        "training": {
            "loss": "cross_entropy",
            "optimizer": {"type": "sgd", "lr": lr, "momentum": 0.9},
            "batch_size": 32,
            "local_steps": local_steps,
            "checkpoint_every": checkpoint_every,
        },
        "verification": {"segments": segments},
        "aggregation": {"rule": aggregation},
        "dataset": {"digest": dataset_digest, "shards": shards, "shard_seed": 1, "holdout_fraction": 0.2},
        "privacy": privacy,
    }
    return spec_from(document, "the built-in spec")  # a flag out of range (--units 0): names the field


def fashion_mnist_spec(
    *,
    dataset_digest: str,
    shards: int = 4,
    local_steps: int = 400,
    checkpoint_every: int = 5,
    aggregation: str = "fedavg",
) -> sp.TaskSpec:
    """A CNN of 80,602 parameters on Fashion-MNIST's 28×28 images (conv-pool-conv-pool-fc-fc, the dataset's
    benchmark table's "2 Conv <100K parameters" kind), SGD with momentum, batches of 64. With 400 local steps
    checkpointed every 5, a verifier re-executing the anchor and 2 drawn segments redoes 15 of 400 steps (4%)."""
    document = {
        "model": {
            "input_shape": [1, 28, 28],
            "layers": [
                {"type": "conv2d", "in_channels": 1, "out_channels": 16, "kernel_size": 3, "padding": 1},
                {"type": "relu"},
                {"type": "maxpool2d", "kernel_size": 2},
                {"type": "conv2d", "in_channels": 16, "out_channels": 32, "kernel_size": 3, "padding": 1},
                {"type": "relu"},
                {"type": "maxpool2d", "kernel_size": 2},
                {"type": "flatten"},
                {"type": "linear", "in_features": 32 * 7 * 7, "out_features": 48},
                {"type": "relu"},
                {"type": "linear", "in_features": 48, "out_features": 10},
            ],
        },
        "training": {
            "loss": "cross_entropy",
            "optimizer": {"type": "sgd", "lr": 0.05, "momentum": 0.9},
            "batch_size": 64,
            "local_steps": local_steps,
            "checkpoint_every": checkpoint_every,
        },
        "verification": {"segments": 2},
        "aggregation": {"rule": aggregation},
        "dataset": {"digest": dataset_digest, "shards": shards, "shard_seed": 1, "holdout_fraction": 0.2},
    }
    return spec_from(document, "the built-in spec")


def lm_model(
    *, context: int = 64, vocabulary: int = 256, dim: int = 64, blocks: int = 2, heads: int = 4
) -> sp.ModelSpec:
    """A small GPT: byte embedding plus learned positions, ``blocks`` pre-norm transformer blocks, a final layer norm
    and the softmax head (a linear layer to the vocabulary, at every position)."""
    return sp.ModelSpec.model_validate(
        {
            "input_shape": [context],
            "layers": [
                {"type": "embedding", "num_embeddings": vocabulary, "embedding_dim": dim},
                {"type": "positional_embedding", "max_length": context, "dim": dim},
                *({"type": "transformer_block", "dim": dim, "heads": heads} for _ in range(blocks)),
                {"type": "layernorm", "normalized_shape": [dim]},
                {"type": "linear", "in_features": dim, "out_features": vocabulary},
            ],
        }
    )


# A language-model unit's steps when the user names none (dml task submit, dml demo --workload lm): long enough that
# the anchor and 2 drawn segments of 5 steps stay under 5% of the miner's work.
LM_LOCAL_STEPS = 400


def lm_spec(
    *,
    dataset_digest: str,
    shards: int = 4,
    context: int = 64,
    local_steps: int = LM_LOCAL_STEPS,
    checkpoint_every: int | None = None,
    dim: int = 64,
    blocks: int = 2,
    lr: float = 3e-3,
    aggregation: str = "fedavg",
) -> sp.TaskSpec:
    """The language-model workload: the small GPT of :func:`lm_model` on byte-level text (``--dataset fortunes``),
    Adam, batches of 16 sequences. With 400 local steps checkpointed every 5, a verifier re-executing the anchor and
    2 drawn segments redoes 15 of 400 steps (3.75%; with loading the checkpoints, 4.7% of training: BENCHMARKS.md).
    ``checkpoint_every`` defaults to keeping that share: 80 segments a unit (every 5 steps up to 400, every 25 at
    2,000; a checkpoint holds the model and both Adam moments, 1.6 MB at the default size)."""
    if checkpoint_every is None:
        checkpoint_every = max(5, local_steps // 80)
    document = {
        "model": lm_model(context=context, dim=dim, blocks=blocks).model_dump(),
        "training": {
            "loss": "cross_entropy",
            "optimizer": {"type": "adam", "lr": lr},
            "batch_size": 16,
            "local_steps": local_steps,
            "checkpoint_every": checkpoint_every,
        },
        "verification": {"segments": 2},
        "aggregation": {"rule": aggregation},
        "dataset": {"digest": dataset_digest, "shards": shards, "shard_seed": 1, "holdout_fraction": 0.0},
    }
    return spec_from(document, "the built-in spec")


def _residual_conv(channels: int) -> dict[str, object]:
    conv = {"type": "conv2d", "in_channels": channels, "out_channels": channels, "kernel_size": 3, "padding": 1}
    return {"type": "residual", "layers": [conv, {"type": "relu"}, conv]}


def fashion_mnist_resnet_spec(
    *,
    dataset_digest: str,
    shards: int = 4,
    local_steps: int = 400,
    checkpoint_every: int = 5,
    channels: int = 16,
    aggregation: str = "fedavg",
) -> sp.TaskSpec:
    """A residual CNN on Fashion-MNIST (a stem conv, then at each of two scales a residual block of two 3×3 convs
    and a pooling, then the linear head: 19,178 parameters with 16 channels), SGD with momentum, batches of 64."""
    c = channels
    document = {
        "model": {
            "input_shape": [1, 28, 28],
            "layers": [
                {"type": "conv2d", "in_channels": 1, "out_channels": c, "kernel_size": 3, "padding": 1},
                {"type": "relu"},
                _residual_conv(c),
                {"type": "relu"},
                {"type": "maxpool2d", "kernel_size": 2},
                _residual_conv(c),
                {"type": "relu"},
                {"type": "maxpool2d", "kernel_size": 2},
                {"type": "flatten"},
                {"type": "linear", "in_features": c * 7 * 7, "out_features": 10},
            ],
        },
        "training": {
            "loss": "cross_entropy",
            "optimizer": {"type": "sgd", "lr": 0.03, "momentum": 0.9},
            "batch_size": 64,
            "local_steps": local_steps,
            "checkpoint_every": checkpoint_every,
        },
        "verification": {"segments": 2},
        "aggregation": {"rule": aggregation},
        "dataset": {"digest": dataset_digest, "shards": shards, "shard_seed": 1, "holdout_fraction": 0.2},
    }
    return spec_from(document, "the built-in spec")
