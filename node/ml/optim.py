"""SGD with momentum and Adam as explicit tensor arithmetic over an explicit state.

Ours rather than ``torch.optim``: the state is a plain dict of tensors that is saved in every checkpoint and
restored exactly, there is no lazily created state, and the update is the same single-threaded arithmetic on
every machine (no fused or foreach kernels). Formulas follow ``torch.optim.SGD`` (dampening 0) and
``torch.optim.Adam`` (L2 weight decay added to the gradient).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from node.ml import spec as sp

OptState = dict[str, torch.Tensor]


def initial_state(optimizer: sp.SGD | sp.Adam, params: Mapping[str, torch.Tensor]) -> OptState:
    state: OptState = {}
    for name, p in params.items():
        if isinstance(optimizer, sp.SGD):
            if optimizer.momentum > 0:
                state[f"{name}.momentum"] = torch.zeros_like(p)
        else:
            state[f"{name}.exp_avg"] = torch.zeros_like(p)
            state[f"{name}.exp_avg_sq"] = torch.zeros_like(p)
    if isinstance(optimizer, sp.Adam):
        state["step"] = torch.zeros((), dtype=torch.int64)
    return state


@torch.no_grad()
def apply(
    optimizer: sp.SGD | sp.Adam,
    params: Mapping[str, torch.Tensor],
    grads: Mapping[str, torch.Tensor],
    state: OptState,
) -> None:
    """One update of ``params`` in place, advancing ``state`` in place."""
    if isinstance(optimizer, sp.SGD):
        for name, p in params.items():
            g = grads[name]
            if optimizer.weight_decay:
                g = g.add(p, alpha=optimizer.weight_decay)
            if optimizer.momentum > 0:
                buf = state[f"{name}.momentum"]
                buf.mul_(optimizer.momentum).add_(g)
                g = g.add(buf, alpha=optimizer.momentum) if optimizer.nesterov else buf
            p.add_(g, alpha=-optimizer.lr)
        return
    state["step"] += 1
    t = int(state["step"].item())
    bias1 = 1 - optimizer.beta1**t
    bias2 = 1 - optimizer.beta2**t
    step_size = optimizer.lr / bias1
    for name, p in params.items():
        g = grads[name]
        if optimizer.weight_decay:
            g = g.add(p, alpha=optimizer.weight_decay)
        m = state[f"{name}.exp_avg"]
        v = state[f"{name}.exp_avg_sq"]
        m.lerp_(g, 1 - optimizer.beta1)
        v.mul_(optimizer.beta2).addcmul_(g, g, value=1 - optimizer.beta2)
        denom = (v.sqrt() / math.sqrt(bias2)).add_(optimizer.eps)
        p.addcdiv_(m, denom, value=-step_size)
