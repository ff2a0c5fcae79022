"""Building the ``torch.nn.Module`` of a spec, checking shapes end to end, and model state as safetensors."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from node.errors import SpecError
from node.ml import layers as nl
from node.ml import spec as sp
from node.store.tensors import TensorLimits, TensorSpec, load_tensors, save_tensors

State = dict[str, torch.Tensor]


def build_layer(layer: sp.Layer) -> nn.Module:
    match layer:
        case sp.Linear():
            return nn.Linear(layer.in_features, layer.out_features, bias=layer.bias)
        case sp.Conv2d():
            return nn.Conv2d(
                layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.padding, bias=layer.bias
            )
        case sp.ReLU():
            return nn.ReLU()
        case sp.GELU():
            return nn.GELU()
        case sp.Tanh():
            return nn.Tanh()
        case sp.Sigmoid():
            return nn.Sigmoid()
        case sp.Flatten():
            return nn.Flatten()
        case sp.Dropout():
            return nl.Dropout(layer.p)
        case sp.MaxPool2d():
            return nn.MaxPool2d(layer.kernel_size, layer.stride)
        case sp.AvgPool2d():
            return nn.AvgPool2d(layer.kernel_size, layer.stride)
        case sp.LayerNorm():
            return nn.LayerNorm(layer.normalized_shape)
        case sp.BatchNorm1d():
            return nn.BatchNorm1d(layer.num_features)
        case sp.BatchNorm2d():
            return nn.BatchNorm2d(layer.num_features)
        case sp.Embedding():
            return nn.Embedding(layer.num_embeddings, layer.embedding_dim)
        case sp.PositionalEmbedding():
            return nl.PositionalEmbedding(layer.max_length, layer.dim)
        case sp.CausalSelfAttention():
            return nl.CausalSelfAttention(layer.dim, layer.heads, layer.dropout, layer.bias)
        case sp.TransformerBlock():
            return nl.TransformerBlock(layer.dim, layer.heads, layer.hidden, layer.dropout)
        case sp.Residual():
            return nl.Residual(nn.Sequential(*(build_layer(inner) for inner in layer.layers)))
    raise SpecError(f"layer {layer!r} is not in the whitelist")  # pragma: no cover - the union is closed


# Held by whoever seeds or draws from torch's default (process-wide) generator: nodes running as threads of one
# process would otherwise shift each other's dropout masks, and re-execution would no longer match.
GLOBAL_GENERATOR = threading.Lock()


def build_module(model: sp.ModelSpec, *, seed: int = 0, check: bool = True) -> nn.Sequential:
    """The module of a model spec, its initial weights drawn from ``seed``; size and (unless ``check`` is
    off, for a spec already checked) shapes checked."""
    if check:
        footprint(model)  # shapes and size, on torch's meta device: nothing allocated, no generator drawn
    # Initial weights draw from torch's process-wide generator.
    with GLOBAL_GENERATOR, torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        return nn.Sequential(*(build_layer(layer) for layer in model.layers))


def probe_input(model: sp.ModelSpec, batch: int, device: str | torch.device = "cpu") -> torch.Tensor:
    """A batch of zeros shaped as the model's input: token ids for a model that starts with an embedding."""
    dtype = torch.int64 if model.takes_tokens else torch.float32
    return torch.zeros(batch, *model.input_shape, dtype=dtype, device=device)


@dataclass(frozen=True, slots=True)
class Footprint:
    """What a model is before any weight exists: its output, its size and what one sample holds in activations."""

    output_shape: tuple[int, ...]
    parameters: int
    activation_bytes: int  # per training sample: every layer's output, and attention's scores, in float32


def footprint(model: sp.ModelSpec) -> Footprint:
    """Runs a 2-sample batch through the layers on torch's meta device (shapes only) and names the first layer
    whose shape does not fit, or a model above ``max_parameters``."""
    with torch.device("meta"):
        net = nn.Sequential(*(build_layer(layer) for layer in model.layers))
    n_params = sum(p.numel() for p in net.parameters())
    if n_params > model.max_parameters:
        raise SpecError(f"model.layers: {n_params} parameters, above model.max_parameters = {model.max_parameters}")
    batch = 2
    held = [0]

    def count(module: nn.Module, _inputs: object, output: object) -> None:
        if isinstance(output, torch.Tensor) and not list(module.children()):
            held[0] += output.numel()
        if isinstance(module, nl.CausalSelfAttention) and isinstance(_inputs, tuple):
            length = _inputs[0].shape[1]
            held[0] += 2 * batch * module.heads * length * length  # the scores and their softmax

    hooks = [m.register_forward_hook(count) for m in net.modules()]
    x = probe_input(model, batch, "meta")
    net.eval()
    try:
        with torch.no_grad():
            for i, layer in enumerate(net):
                try:
                    x = layer(x)
                except (RuntimeError, ValueError, IndexError) as err:
                    raise SpecError(
                        f"model.layers.{i} ({model.layers[i].type}): does not fit input of shape "
                        f"{tuple(x.shape[1:])}: {str(err).splitlines()[0]}"
                    ) from err
    finally:
        for hook in hooks:
            hook.remove()
    return Footprint(tuple(x.shape[1:]), n_params, 4 * held[0] // batch)


def output_shape(model: sp.ModelSpec) -> tuple[int, ...]:
    """The shape of one sample's output; :class:`SpecError` naming the first layer that does not fit."""
    return footprint(model).output_shape


def check_activations(model: sp.ModelSpec, batch_size: int) -> None:
    """A training batch's activations must fit ``max_activation_bytes``."""
    need = footprint(model).activation_bytes * batch_size
    if need > model.max_activation_bytes:
        raise SpecError(
            f"training.batch_size: a batch of {batch_size} holds about {need / 2**20:.0f} MiB of activations, above "
            f"model.max_activation_bytes = {model.max_activation_bytes / 2**20:.0f} MiB"
        )


def check_against_dataset(
    model: sp.ModelSpec, x_shape: tuple[int, ...], loss: str, num_classes: int, *, tokens: bool = False
) -> None:
    """The model's input must be one sample of the dataset, its output one logit per class (or the targets); a
    dataset of token sequences (``tokens``) needs a model that starts with an embedding and, with cross_entropy,
    ends in a logit per vocabulary entry at every position."""
    if tuple(model.input_shape) != tuple(x_shape):
        raise SpecError(f"model.input_shape: {tuple(model.input_shape)} but the dataset's samples are {tuple(x_shape)}")
    if tokens != model.takes_tokens:
        raise SpecError(
            "model.layers.0: the dataset is token sequences, a language model starts with an embedding"
            if tokens
            else "model.layers.0: an embedding takes token ids, the dataset's samples are numbers"
        )
    out = output_shape(model)
    if loss != "cross_entropy":
        return
    if tokens:
        if len(out) != 2 or out[0] != x_shape[0] or out[1] < num_classes:
            raise SpecError(
                f"model.layers: the output is {out}, a language model needs ({x_shape[0]}, vocabulary) with a "
                f"vocabulary of at least {num_classes} tokens"
            )
    elif out != (num_classes,):
        raise SpecError(
            f"model.layers: the output is {out}, cross_entropy needs ({num_classes},) for {num_classes} classes"
        )


def state_of(module: nn.Module) -> State:
    """Parameters and buffers, detached copies, in a fixed (sorted) order."""
    return {k: v.detach().clone() for k, v in sorted(module.state_dict().items())}


def tensor_specs(module: nn.Module) -> dict[str, TensorSpec]:
    return tensor_specs_of(state_of(module))


def tensor_specs_of(state: Mapping[str, torch.Tensor]) -> dict[str, TensorSpec]:
    return {k: TensorSpec(tuple(v.shape), str(v.numpy().dtype)) for k, v in state.items()}


def state_to_bytes(state: Mapping[str, torch.Tensor]) -> bytes:
    return save_tensors({k: v.detach().cpu().contiguous().numpy() for k, v in state.items()})


def state_from_bytes(
    data: bytes, expected: Mapping[str, TensorSpec] | None = None, limits: TensorLimits | None = None
) -> State:
    arrays = load_tensors(data, expected=expected, limits=limits or TensorLimits())
    return {k: torch.from_numpy(np.array(v, copy=True)) for k, v in sorted(arrays.items())}


def flat(state: Mapping[str, torch.Tensor], *, floating_only: bool = True) -> torch.Tensor:
    """All (floating) tensors of a state concatenated in key order, as float64."""
    parts = [
        v.reshape(-1).to(torch.float64) for k, v in sorted(state.items()) if v.is_floating_point() or not floating_only
    ]
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64)


def relative_distance(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor]) -> float:
    """‖a − b‖₂ / max(‖b‖₂, 1e-12) over every floating tensor; inf when keys, shapes, dtypes or an integer
    tensor differ."""
    if set(a) != set(b) or any(a[k].shape != b[k].shape or a[k].dtype != b[k].dtype for k in a):
        return float("inf")
    if any(not a[k].is_floating_point() and not torch.equal(a[k], b[k]) for k in a):
        return float("inf")  # integer buffers (batch counters) must match exactly
    va, vb = flat(a), flat(b)
    return float(torch.linalg.vector_norm(va - vb) / max(float(torch.linalg.vector_norm(vb)), 1e-12))
