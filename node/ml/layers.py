"""The torch modules of the spec's sequence layers: positional embedding, causal self-attention, the pre-norm
transformer block, and the residual block.

Attention is written out (scores, mask, softmax, weighted sum) rather than through
``scaled_dot_product_attention``: that function picks a fused kernel by device, shape and build, and a verifier on
another machine must be able to compute the same arithmetic from the spec alone. Dropout draws from torch's
default CPU generator, which the trainer seeds for every step (:mod:`node.ml.train`), on any device.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class Dropout(nn.Module):
    """Dropout whose mask is drawn from torch's default CPU generator whatever the device the values are on, so a
    step's seed fixes the same mask on a CPU, a GPU or an MPS device (``nn.Dropout`` draws from the device's own
    generator, whose stream differs)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand(x.shape) >= self.p  # the default CPU generator, seeded for the step by the trainer
        return x * keep.to(device=x.device, dtype=x.dtype) * (1.0 / (1.0 - self.p))


class PositionalEmbedding(nn.Module):
    """Adds a learned vector per position to a (batch, length, dim) sequence."""

    def __init__(self, max_length: int, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(max_length, dim))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[-2]
        if length > self.weight.shape[0]:
            raise ValueError(f"a sequence of {length} positions, the embedding has {self.weight.shape[0]}")
        return x + self.weight[:length]


class CausalSelfAttention(nn.Module):
    """Multi-head attention of each position over itself and the positions before it."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=bias)
        self.proj = nn.Linear(dim, dim, bias=bias)
        self.attn_drop = Dropout(dropout)
        self.out_drop = Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise ValueError(f"attention takes (batch, length, dim), got {tuple(x.shape)}")
        batch, length, dim = x.shape
        q, k, v = self.qkv(x).split(dim, dim=2)
        shape = (batch, length, self.heads, dim // self.heads)
        q, k, v = (t.reshape(shape).transpose(1, 2) for t in (q, k, v))  # (batch, heads, length, head_dim)
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(dim // self.heads))
        mask = torch.ones(length, length, dtype=torch.bool, device=x.device).triu(1)
        weights = self.attn_drop(scores.masked_fill(mask, float("-inf")).softmax(dim=-1))
        out = (weights @ v).transpose(1, 2).reshape(batch, length, dim)
        projected: torch.Tensor = self.out_drop(self.proj(out))
        return projected


class TransformerBlock(nn.Module):
    """x + attention(layernorm(x)), then x + MLP(layernorm(x)), the MLP dim → hidden → GELU → dim."""

    def __init__(self, dim: int, heads: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = CausalSelfAttention(dim, heads, dropout)
        self.ln2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim), Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        out: torch.Tensor = x + self.mlp(self.ln2(x))
        return out


class Residual(nn.Module):
    """x + body(x); a body that changes the shape is refused when the model is checked."""

    def __init__(self, body: nn.Sequential) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = self.body(x)
        if y.shape != x.shape:
            raise ValueError(f"the residual body turns {tuple(x.shape[1:])} into {tuple(y.shape[1:])}")
        return x + y
