"""What crosses the cut in split training, as bytes: one safetensors message per crossing, and the digest chain
that commits to a unit's whole traffic.

A step sends four messages (see :mod:`node.ml.split`): the owner's activations, the middle's output, the owner's
gradient at that output, the middle's gradient at its input. Each is one float32 tensor of a shape both sides
know from the spec (batch × the cut's shape), named by its kind and step; a message of another
shape, kind or step, with NaN or Inf, or in any format but safetensors is refused before it is used. Both sides
chain the digests of the messages in order; the chain's head commits to the traffic, so a verifier handed the
recorded messages can check they are the ones the step used.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import torch

from node.store.errors import ArtifactError
from node.store.tensors import TensorLimits, TensorSpec, inspect_header, load_tensors, save_tensors

# A step's message is a batch of activations: well under this (the digits CNN cut after its first pool sends
# 32 × 16 × 4 × 4 floats, 32 KB); the cap bounds what a peer can make the other side allocate.
MESSAGE_LIMITS = TensorLimits(max_bytes=64 * 1024 * 1024, max_header_bytes=4096, max_tensors=1)


class Kind(StrEnum):
    ACTIVATIONS = "activations"  # owner → middle: the stem's output (or the input itself)
    OUTPUT = "output"  # middle → owner: the middle's output
    GRADIENT_OUT = "gradient_out"  # owner → middle: the loss's gradient at the middle's output
    GRADIENT_IN = "gradient_in"  # middle → owner: the gradient at the middle's input


def _name(kind: Kind, step: int) -> str:
    # What the message is goes in the tensor's name, not in safetensors metadata: the library writes metadata in
    # hash-map order, which differs between calls, and the traffic chain needs the same bytes for the same message.
    return f"{kind.value}/{step}"


def encode(kind: Kind, step: int, tensor: torch.Tensor) -> bytes:
    array = tensor.detach().to(torch.float32).contiguous().numpy()
    return save_tensors({_name(kind, step): array})


def decode(data: bytes, kind: Kind, step: int, shape: tuple[int, ...]) -> torch.Tensor:
    """The tensor of a message that must be ``kind`` at ``step`` with ``shape``; anything else is refused."""
    name = _name(kind, step)
    sent = _names(data)
    if sent != [name]:
        raise ArtifactError(f"expected the {kind.value} of step {step}, got {', '.join(sent) or 'nothing'}")
    array = load_tensors(data, expected={name: TensorSpec(shape, "float32")}, limits=MESSAGE_LIMITS)[name]
    return torch.from_numpy(np.array(array, copy=True))


def _names(data: bytes) -> list[str]:
    """The tensor names of a message, after the framing checks (a pickle is refused here, unread)."""
    return sorted(k for k in inspect_header(data, MESSAGE_LIMITS) if k != "__metadata__")


@dataclass(slots=True)
class TrafficChain:
    """The running digest of a unit's messages: ``head = sha256(head ‖ sha256(message))``, from a start both sides
    derive from the unit (its seed). Equal heads mean the same messages in the same order."""

    head: bytes
    count: int = 0
    _log: list[bytes] = field(default_factory=list)

    @classmethod
    def start(cls, unit_seed: bytes) -> TrafficChain:
        return cls(hashlib.sha256(b"dmlnet split traffic" + unit_seed).digest())

    def add(self, message: bytes) -> bytes:
        self.head = hashlib.sha256(self.head + hashlib.sha256(message).digest()).digest()
        self.count += 1
        self._log.append(self.head)
        return self.head

    def head_after(self, count: int) -> bytes:
        """The head once ``count`` messages were chained (a segment's boundary)."""
        if not 1 <= count <= self.count:
            raise ArtifactError(f"no head after {count} messages: {self.count} chained")
        return self._log[count - 1]


def replay(unit_seed: bytes, messages: list[bytes], *, start: bytes | None = None) -> bytes:
    """The head a list of recorded messages gives, from the unit's start or from ``start`` (a segment's first
    head): a verifier compares it with the committed one."""
    chain = TrafficChain.start(unit_seed) if start is None else TrafficChain(start)
    for message in messages:
        chain.add(message)
    return chain.head


_LENGTH = 4  # bytes of a recorded message's length prefix (big-endian); MESSAGE_LIMITS keeps each one far below


def pack(messages: list[bytes]) -> bytes:
    """A segment's recorded messages as one store object: each one's length, then its bytes, in order (the exact
    bytes that were chained: a verifier recomputes the heads from them)."""
    return b"".join(len(m).to_bytes(_LENGTH, "big") + m for m in messages)


def unpack(data: bytes, count: int) -> list[bytes]:
    """The ``count`` messages of a packed segment; a truncated, oversized or overlong object is refused."""
    messages, at = [], 0
    for i in range(count):
        if at + _LENGTH > len(data):
            raise ArtifactError(f"the recorded traffic ends at message {i} of {count}")
        size = int.from_bytes(data[at : at + _LENGTH], "big")
        if size > MESSAGE_LIMITS.max_bytes or at + _LENGTH + size > len(data):
            raise ArtifactError(f"recorded message {i} claims {size} bytes: more than the limit or the object holds")
        messages.append(data[at + _LENGTH : at + _LENGTH + size])
        at += _LENGTH + size
    if at != len(data):
        raise ArtifactError(f"{len(data) - at} bytes after the {count} recorded messages")
    return messages
