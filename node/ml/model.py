"""Building the ``torch.nn.Module`` of a spec, checking shapes end to end, and model state as safetensors."""

from __future__ import annotations

import threading
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from node.errors import SpecError
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
            return nn.Dropout(layer.p)
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
    raise SpecError(f"layer {layer!r} is not in the whitelist")  # pragma: no cover - the union is closed


# Held by whoever seeds or draws from torch's default (process-wide) generator: nodes running as threads of one
# process would otherwise shift each other's dropout masks, and re-execution would no longer match.
GLOBAL_GENERATOR = threading.Lock()


def build_module(model: sp.ModelSpec, *, seed: int = 0, check: bool = True) -> nn.Sequential:
    """The module of a model spec, its initial weights drawn from ``seed``; size and (unless ``check`` is
    off, for a spec already checked) shapes checked."""
    with GLOBAL_GENERATOR:  # initial weights and the shape probe draw from torch's process-wide generator
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(seed)
            module = nn.Sequential(*(build_layer(layer) for layer in model.layers))
        n_params = sum(p.numel() for p in module.parameters())
        if n_params > model.max_parameters:
            raise SpecError(f"model.layers: {n_params} parameters, above model.max_parameters = {model.max_parameters}")
        if check:
            with torch.random.fork_rng(devices=[]):
                output_shape(model, module)
    return module


def output_shape(model: sp.ModelSpec, module: nn.Sequential | None = None) -> tuple[int, ...]:
    """Runs a 2-sample dummy batch through the layers and names the first layer whose shape does not fit."""
    net: nn.Sequential = (
        module if module is not None else nn.Sequential(*(build_layer(layer) for layer in model.layers))
    )
    x = torch.zeros(2, *model.input_shape)
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            for i, layer in enumerate(net):
                try:
                    x = layer(x)
                except (RuntimeError, ValueError) as err:
                    raise SpecError(
                        f"model.layers.{i} ({model.layers[i].type}): does not fit input of shape "
                        f"{tuple(x.shape[1:])}: {str(err).splitlines()[0]}"
                    ) from err
    finally:
        net.train(was_training)
    return tuple(x.shape[1:])


def check_against_dataset(model: sp.ModelSpec, x_shape: tuple[int, ...], loss: str, num_classes: int) -> None:
    """The model's input must be one sample of the dataset, its output one logit per class (or the targets)."""
    if tuple(model.input_shape) != tuple(x_shape):
        raise SpecError(f"model.input_shape: {tuple(model.input_shape)} but the dataset's samples are {tuple(x_shape)}")
    out = output_shape(model)
    if loss == "cross_entropy" and out != (num_classes,):
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
