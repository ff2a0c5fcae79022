"""The step protocol over HTTP: a unit trained through it equals one trained in process; only the claimant is
served; every refusal has its status and reason."""

from __future__ import annotations

import pytest
import torch
from eth_account import Account
from fastapi.testclient import TestClient

from node.errors import StepRefused
from node.ml.model import build_module, state_of
from node.ml.split_unit import OwnerUnit, middle_of, train_middle
from node.ml.split_wire import Kind, encode
from node.protocol.owner_client import HttpTransport
from node.protocol.owner_service import Commitment, create_owner_app
from node.protocol.step_auth import (
    SIGNATURE_HEADER,
    Binding,
    StepRequest,
    TrafficCommitment,
    commitment_signer,
    sign_commitment,
    sign_step,
)
from node.retry import RetryPolicy
from tests.unit.ml.split_fixtures import PLAN, SEED, SPEC, shard

MINER = Account.from_key("0x" + "11" * 32)
OTHER = Account.from_key("0x" + "22" * 32)
BINDING = Binding(31337, "0x" + "ab" * 20)
INITIAL = state_of(build_module(SPEC.model, seed=2))
TASK_OWNER = Account.from_key("0x" + "33" * 32)


def _app() -> tuple[TestClient, list[OwnerUnit]]:
    opened: list[OwnerUnit] = []

    def open_unit(task_id: int, round_: int, unit: int, claimant: str) -> OwnerUnit | None:
        if (task_id, round_, unit) != (1, 0, 0) or claimant != MINER.address:  # the chain says who holds it
            return None
        opened.append(OwnerUnit(SPEC, PLAN, INITIAL, shard(), SEED))
        return opened[-1]

    def finish_unit(task_id: int, round_: int, unit: int, claimant: str, owner: OwnerUnit) -> Commitment:
        heads = owner.checkpoint_heads()
        signed = TrafficCommitment(BINDING.chain_id, BINDING.contract, task_id, round_, unit, claimant, heads)
        return Commitment(
            heads=[h.hex() for h in heads],
            segment_losses=owner.segment_losses(),
            signature=sign_commitment(TASK_OWNER, signed),
        )

    return TestClient(create_owner_app(BINDING, open_unit, finish_unit)), opened


def test_a_unit_trained_over_http_equals_one_trained_in_process() -> None:
    client, opened = _app()
    transport = HttpTransport("http://testserver", MINER, BINDING, (1, 0, 0), client=client)
    over_http = train_middle(SPEC, PLAN, middle_of(SPEC, PLAN, INITIAL), transport, SEED, 100)
    local_owner = OwnerUnit(SPEC, PLAN, INITIAL, shard(), SEED)
    in_process = train_middle(SPEC, PLAN, middle_of(SPEC, PLAN, INITIAL), local_owner, SEED, 100)
    assert over_http.traffic_head == in_process.traffic_head == opened[0].chain.head
    assert len(opened) == 1, "one private copy per unit, kept across its steps"
    for name, tensor in in_process.checkpoints[-1].model.items():
        assert torch.equal(over_http.checkpoints[-1].model[name], tensor)


def test_anyone_but_the_claimant_is_refused_before_anything_is_computed() -> None:
    client, opened = _app()
    with pytest.raises(StepRefused, match="403"):
        HttpTransport("http://testserver", OTHER, BINDING, (1, 0, 0), client=client).activations(0)
    other_chain = Binding(1, BINDING.contract)  # the claimant's signature for another chain does not count here
    with pytest.raises(StepRefused, match="403"):
        HttpTransport("http://testserver", OTHER, other_chain, (1, 0, 0), client=client).activations(0)
    assert opened == []


def test_a_tampered_body_an_unsigned_request_and_bad_messages_are_refused() -> None:
    client, _ = _app()
    miner = HttpTransport("http://testserver", MINER, BINDING, (1, 0, 0), client=client)
    miner.activations(0)
    body = encode(Kind.OUTPUT, 0, torch.zeros(16, 64))
    signature = sign_step(MINER, StepRequest(BINDING.chain_id, BINDING.contract, 1, 0, 0, 0, "output"), body)
    tampered = encode(Kind.OUTPUT, 0, torch.ones(16, 64))
    assert (
        client.post("/split/v1/1/0/0/0/output", content=tampered, headers={SIGNATURE_HEADER: signature}).status_code
        == 403
    )
    assert client.post("/split/v1/1/0/0/0/output", content=body).status_code == 403
    with pytest.raises(StepRefused, match=r"400.*shape"):
        miner.output(0, encode(Kind.OUTPUT, 0, torch.zeros(16, 63)))
    with pytest.raises(StepRefused, match=r"400.*NaN"):
        miner.output(0, encode(Kind.OUTPUT, 0, torch.full((16, 64), float("nan"))))
    with pytest.raises(StepRefused, match="409"):
        miner.gradient(0, encode(Kind.GRADIENT_IN, 0, torch.zeros(16, 128)))
    miner.output(0, body)  # the right message is still answered after the refusals


def test_an_owner_side_that_does_not_answer_is_a_refusal_after_the_retries() -> None:
    transport = HttpTransport(
        "http://127.0.0.1:9", MINER, BINDING, (1, 0, 0), policy=RetryPolicy(attempts=2, base_delay_s=0.01), timeout_s=1
    )
    with pytest.raises(StepRefused, match="did not answer"):
        transport.activations(0)


def test_the_commitment_comes_after_the_last_step_signed_over_the_traffic_the_miner_saw() -> None:
    client, opened = _app()
    transport = HttpTransport("http://testserver", MINER, BINDING, (1, 0, 0), client=client)
    transport.activations(0)
    with pytest.raises(StepRefused, match=r"409.*no commitment before its last step"):
        transport.commitment(SPEC.training.local_steps)
    trail = train_middle(SPEC, PLAN, middle_of(SPEC, PLAN, INITIAL), transport, SEED, 100)
    assert len(opened) == 2, "the activations of step 0 started the unit over (a restarted claimant)"
    commitment = transport.commitment(SPEC.training.local_steps)
    assert commitment.heads == [h.hex() for h in trail.heads]
    assert len(commitment.segment_losses) == len(SPEC.training.checkpoint_steps) - 1
    signed = TrafficCommitment(BINDING.chain_id, BINDING.contract, 1, 0, 0, MINER.address, trail.heads)
    assert commitment_signer(signed, commitment.signature) == TASK_OWNER.address
    other_miner = TrafficCommitment(BINDING.chain_id, BINDING.contract, 1, 0, 0, OTHER.address, trail.heads)
    assert commitment_signer(other_miner, commitment.signature) != TASK_OWNER.address, "bound to its claimant"
