"""Split ("U-shaped") training: the owner keeps a private stem and head, the network trains the public middle.

One training step crosses the cut four times: the owner runs its stem and sends the activations; the middle runs
forward and sends its output back; the owner runs its head and the loss (the labels never leave it) and sends
the gradient at the middle's output; the middle back-propagates, updates itself and returns the gradient at the
stem's output, with which the owner updates its stem and head. Neither side ever holds the other's weights, and
together they compute exactly the step that training the whole model would (tested against it).

This module is the arithmetic of both sides; carrying the tensors between two machines is the step protocol's
job, and recording them for verification the trail's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from node.errors import SpecError
from node.ml import spec as sp
from node.ml.model import GLOBAL_GENERATOR, State, build_layer, build_module, probe_input
from node.ml.optim import OptState, apply, initial_state
from node.ml.train import loss_of

# The owner's side may carry at most this share of a forward pass: split mode is for models whose bulk the
# network computes (a stem that is most of the model would leave the network little to do and the owner all).
MAX_OWNER_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class SplitPlan:
    """Which layers (indices into ``model.layers``) each side holds, and what crosses the cut."""

    stem: range
    middle: range
    head: range
    owner_share: float  # of the multiply-adds of one forward pass
    cut_in: tuple[int, ...]  # one sample's activations entering the middle
    cut_out: tuple[int, ...]  # one sample's output of the middle


def _costs(model: sp.ModelSpec) -> tuple[list[int], list[tuple[int, ...]]]:
    """Multiply-adds of each layer for one sample, and the shape after each layer."""
    x = probe_input(model, 1)
    costs: list[int] = []
    shapes: list[tuple[int, ...]] = []
    with torch.no_grad():
        for layer_spec in model.layers:
            layer = build_layer(layer_spec).eval()
            y = layer(x)
            costs.append(_cost(layer_spec, y))
            shapes.append(tuple(y.shape[1:]))
            x = y
    return costs, shapes


def _cost(layer: sp.Layer | sp.BlockLayer, y: torch.Tensor) -> int:
    """Multiply-adds of one layer for one sample whose output is ``y``."""
    match layer:
        case sp.Linear():
            return y.numel() * layer.in_features
        case sp.Conv2d():
            return y.numel() * layer.in_channels * layer.kernel_size**2
        case sp.CausalSelfAttention() | sp.TransformerBlock():
            length, dim = y.shape[-2], y.shape[-1]
            mlp = 2 * length * dim * layer.hidden if isinstance(layer, sp.TransformerBlock) else 0
            return 4 * length * dim * dim + 2 * length * length * dim + mlp  # projections, scores and sum, MLP
        case sp.Residual():
            return sum(_cost(inner, y) for inner in layer.layers)
        case _:
            return y.numel()


def plan_split(model: sp.ModelSpec, privacy: sp.PrivacySpec) -> SplitPlan:
    """The cut of ``model`` that ``privacy`` asks for; refuses one that leaves no public middle or leaves the
    owner most of the compute, naming the field."""
    if privacy.mode != "split":
        raise SpecError('privacy.mode: "none" has no split')
    parametrised = [i for i, layer in enumerate(model.layers) if isinstance(layer, sp.PARAMETRISED)]
    n, m = privacy.private_prefix, privacy.private_suffix
    if n + m >= len(parametrised):
        raise SpecError(
            f"privacy: {n} + {m} private layers of the model's {len(parametrised)} parametrised ones leave no public "
            "middle to train"
        )
    start = parametrised[n]  # the stem keeps its last private layer's activation and pooling
    stem_kinds = {model.layers[i].type for i in parametrised[:n]}
    if stem_kinds and stem_kinds <= {"embedding", "positional_embedding"}:
        raise SpecError(
            "privacy.private_prefix: an embedding alone does not hide the tokens (each token enters the middle as "
            "the same vector wherever it appears, so the middle could read the text back): keep a transformer block "
            "private with it"
        )
    end = parametrised[len(parametrised) - m] if m else len(model.layers)
    costs, shapes = _costs(model)
    total = sum(costs)
    owner = sum(costs[:start]) + sum(costs[end:])
    share = owner / total if total else 0.0
    if share > MAX_OWNER_SHARE:
        raise SpecError(
            f"privacy.private_prefix: the owner's side would carry {share:.0%} of the compute (at most "
            f"{MAX_OWNER_SHARE:.0%}): keep fewer or smaller layers private"
        )
    return SplitPlan(
        stem=range(0, start),
        middle=range(start, end),
        head=range(end, len(model.layers)),
        owner_share=share,
        cut_in=tuple(model.input_shape) if start == 0 else shapes[start - 1],
        cut_out=shapes[end - 1],
    )


def part(module: nn.Sequential, layers: range) -> nn.Sequential:
    """The layers ``layers`` of ``module`` (its own parameters, not copies)."""
    return nn.Sequential(*(module[i] for i in layers))


def part_state(module: nn.Sequential, layers: range) -> State:
    """The named tensors of those layers, under the whole model's names (``"3.weight"``), detached."""
    return {
        name: tensor.detach().clone()
        for name, tensor in module.state_dict().items()
        if int(name.split(".", 1)[0]) in layers
    }


def plan_of(spec: sp.TaskSpec) -> SplitPlan | None:
    """The task's cut, or None for a task in plain mode (the spec's validation already refused a bad cut)."""
    return plan_split(spec.model, spec.privacy) if spec.privacy.mode == "split" else None


def is_public(name: str, plan: SplitPlan) -> bool:
    """Whether a whole-model tensor name (``"3.weight"``) belongs to the public middle."""
    return int(name.split(".", 1)[0]) in plan.middle


def public_part(state: State, plan: SplitPlan) -> State:
    """The middle's tensors of a whole-model state, under the whole model's names: what the network holds."""
    return {name: tensor for name, tensor in state.items() if is_public(name, plan)}


def private_part(state: State, plan: SplitPlan) -> State:
    """The stem's and head's tensors of a whole-model state: what only the owner holds."""
    return {name: tensor for name, tensor in state.items() if not is_public(name, plan)}


def _shift(state: State, by: int) -> State:
    out = {}
    for name, tensor in state.items():
        index, rest = name.split(".", 1)
        out[f"{int(index) + by}.{rest}"] = tensor
    return out


def to_middle_names(state: State, plan: SplitPlan) -> State:
    """Whole-model names (``"3.weight"``) to the middle's own numbering (``"0.weight"``)."""
    return _shift(state, -plan.middle.start)


def to_whole_names(state: State, plan: SplitPlan) -> State:
    """The middle's own numbering to the whole model's names."""
    return _shift(state, plan.middle.start)


def middle_module(spec: sp.TaskSpec, plan: SplitPlan, public: State) -> nn.Sequential:
    """The public middle, loaded from the network's model (whole-model names, the middle's tensors only)."""
    module = build_module(spec.model, check=False)
    middle = part(module, plan.middle)
    middle.load_state_dict(to_middle_names(public, plan), strict=True)
    return middle


def combine(private: State, middle: State, plan: SplitPlan) -> State:
    """The whole model from the owner's layers (whole-model names) and the middle's (its own numbering)."""
    renamed = to_whole_names(middle, plan)
    if set(renamed) & set(private):
        raise SpecError("the middle and the owner's layers overlap: not parts of one split")
    return {**private, **renamed}


def _params(module: nn.Sequential, layers: range) -> dict[str, torch.Tensor]:
    return {name: p for name, p in module.named_parameters() if int(name.split(".", 1)[0]) in layers}


def _grads(params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: p.grad if p.grad is not None else torch.zeros_like(p) for name, p in params.items()}


class OwnerSide:
    """The owner's stem and head, their optimizer state, and the labels; what it sends is activations and
    gradients, never weights."""

    def __init__(self, module: nn.Sequential, plan: SplitPlan, training: sp.TrainingSpec) -> None:
        self._module = module
        self._plan = plan
        self._optimizer = training.optimizer
        self._loss_kind = training.loss
        self._params = {**_params(module, plan.stem), **_params(module, plan.head)}
        self.opt_state: OptState = initial_state(self._optimizer, self._params)
        self._stem_out: torch.Tensor | None = None
        self._middle_out: torch.Tensor | None = None

    def stem_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Step part 1: the activations to send (the input itself when there is no stem)."""
        for p in self._params.values():
            p.grad = None
        out = part(self._module, self._plan.stem)(x) if len(self._plan.stem) else x
        self._stem_out = out
        return out.detach()

    def head_backward(self, middle_out: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, float]:
        """Step part 3: the head and the loss on the middle's output; returns the gradient at that output to
        send, and the loss."""
        received = middle_out.detach().requires_grad_(True)
        out = part(self._module, self._plan.head)(received) if len(self._plan.head) else received
        loss = loss_of(self._loss_kind, out, y)
        loss.backward()  # type: ignore[no-untyped-call]
        assert received.grad is not None
        return received.grad.detach(), float(loss.detach())

    def finish(self, grad_at_cut: torch.Tensor) -> None:
        """Step part 5: back through the stem with the gradient the middle returned, then one update of the
        owner's layers."""
        if self._stem_out is not None and self._stem_out.requires_grad:
            self._stem_out.backward(grad_at_cut)  # type: ignore[no-untyped-call]
        self._stem_out = None
        apply(self._optimizer, self._params, _grads(self._params), self.opt_state)


class MiddleSide:
    """The public middle and its optimizer state: what a miner holds."""

    def __init__(self, middle: nn.Sequential, training: sp.TrainingSpec, opt_state: OptState | None = None) -> None:
        """``opt_state``: the optimizer state to go on from (a checkpoint's); a fresh one when not given."""
        self._middle = middle
        self._optimizer = training.optimizer
        self._params: dict[str, torch.Tensor] = dict(middle.named_parameters())
        self.opt_state: OptState = (
            {k: v.clone() for k, v in opt_state.items()}
            if opt_state is not None
            else initial_state(self._optimizer, self._params)
        )
        self._input: torch.Tensor | None = None
        self._output: torch.Tensor | None = None

    def forward(self, activations: torch.Tensor, dropout_seed: int | None = None) -> torch.Tensor:
        """Step part 2: the middle's output to send back. ``dropout_seed``: the step's (see
        :func:`node.ml.train.step_seed`), so that a verifier re-executing the step draws the same masks."""
        for p in self._params.values():
            p.grad = None
        self._input = activations.detach().requires_grad_(True)
        self._middle.train()
        if dropout_seed is None:
            self._output = self._middle(self._input)
        else:
            with GLOBAL_GENERATOR, torch.random.fork_rng(devices=[]):
                torch.default_generator.manual_seed(dropout_seed)
                self._output = self._middle(self._input)
        return self._output.detach()

    def state(self) -> State:
        """The middle's weights (under its own layer numbering), detached copies."""
        return {k: v.detach().clone() for k, v in self._middle.state_dict().items()}

    def backward(self, grad_out: torch.Tensor) -> torch.Tensor:
        """Step part 4: back-propagates the owner's gradient, updates the middle; returns the gradient at the
        middle's input to send back."""
        if self._input is None or self._output is None:
            raise SpecError("backward before forward: a step's messages arrived out of order")
        if grad_out.shape != self._output.shape:
            raise SpecError(f"gradient of shape {tuple(grad_out.shape)}, the output was {tuple(self._output.shape)}")
        self._output.backward(grad_out)  # type: ignore[no-untyped-call]
        grad_in = self._input.grad
        apply(self._optimizer, self._params, _grads(self._params), self.opt_state)
        self._input = self._output = None
        return grad_in.detach() if grad_in is not None else torch.zeros(0)
