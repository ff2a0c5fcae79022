"""Honest work is accepted whatever the spec: each case of the matrix (testkit.matrix) built as the CLI builds a
task, loaded as a node loads its material, trained, published, verified on another thread count, aggregated and
its aggregate verified, then a second round trained from the aggregate read back from its bytes. The network
runs the same cases through real node processes (tests/e2e/test_matrix.py); this is the seconds-long guard."""

from __future__ import annotations

import pytest

from client.datasets import context_of, load_dataset
from client.tasks import Economics, build_task
from node.ml.aggregate import Contribution, aggregate, verify_aggregate
from node.ml.device import Hardware
from node.ml.manifest import UnitContext, parse_trail, publish_trail
from node.ml.material import load_material
from node.ml.model import relative_distance, state_from_bytes, state_to_bytes
from node.ml.train import deterministic, run_segment, train_unit
from node.ml.verify import Outcome, verify_unit
from node.store.cid import cid_of, same_object
from testkit.matrix import EXAMPLES, MatrixCase, all_cases, case_ids, missing_coverage
from testkit.world import MINER, MemoryStore

CASES = all_cases()


def test_the_matrix_covers_every_layer_optimizer_rule_and_option_of_the_spec() -> None:
    assert missing_coverage(CASES) == [], "a spec option no matrix case trains: add a case in testkit/matrix.py"


def test_every_example_spec_is_a_case() -> None:
    examples = {c.example.name for c in CASES if c.example is not None}
    assert examples == {p.name for p in EXAMPLES.iterdir() if p.suffix != ".md"}
    assert examples


@pytest.mark.parametrize("case", CASES, ids=case_ids(CASES))
def test_honest_units_and_aggregates_are_accepted(case: MatrixCase) -> None:
    store = MemoryStore()
    built = build_task(
        case.spec, load_dataset(case.dataset, context=context_of(case.spec)), Economics(rounds=2, quorum=1)
    )
    for data in built.objects.values():
        store.put(data)
    prepared = built.prepared
    material = load_material(
        store.get(prepared.spec_cid), store.get,
        spec_cid=prepared.spec_cid, dataset_cid=prepared.dataset_cid, units_per_round=case.spec.dataset.shards,
    )  # fmt: skip
    spec, input_cid = material.spec, prepared.model_cid
    units = min(spec.dataset.shards, 3)
    for round_ in range(2):
        model = state_from_bytes(store.get(input_cid), material.model_specs)
        contributions = []
        for index in range(units):
            seed = bytes([round_, index]) * 16
            trail = train_unit(spec, model, material.shard(index), seed)
            ctx = UnitContext(1, round_, index, MINER, prepared.spec_cid, prepared.dataset_cid, input_cid, seed)
            manifest, cid = publish_trail(trail, store.put, ctx)
            verdict = verify_unit(spec, store.get(cid), store.get, b"challenge", ctx, material.shard(index))
            assert verdict.outcome is Outcome.VALID, f"round {round_} unit {index}: {verdict.reason}"
            final = state_from_bytes(store.get(parse_trail(store.get(cid)).final_model), material.model_specs)
            contributions.append(Contribution(index, final, manifest.samples))
        if units < spec.dataset.shards:  # the rule runs over every unit of a round: the rest train the same way
            for index in range(units, spec.dataset.shards):
                trail = train_unit(spec, model, material.shard(index), bytes([round_, index]) * 16)
                contributions.append(Contribution(index, trail.final_model, trail.samples))
        keys = set(material.parameter_keys)
        combined = aggregate(spec, contributions, keys, task_id=1, round_=round_)
        input_cid = store.put(state_to_bytes(combined))
        claimed = state_from_bytes(store.get(input_cid), material.model_specs)
        check = verify_aggregate(spec, contributions, claimed, keys, task_id=1, round_=round_)
        assert check.valid, f"round {round_} aggregate: {check.reason}"
        assert same_object(cid_of(state_to_bytes(claimed)), input_cid), "the aggregate reads back to the same bytes"


def test_a_segment_is_re_executed_with_the_threads_the_miner_trained_with() -> None:
    """Why the trail declares its threads: on the layer-norm/batch-norm MLP under Adam, a segment re-executed on
    another thread count lands beyond the tolerance (a reduction rounds differently, Adam makes it a step); with
    the declared count it reproduces exactly."""
    case = next(c for c in CASES if c.name == "layers-norms-adam")
    built = build_task(case.spec, load_dataset(case.dataset, context=context_of(case.spec)), Economics())
    p = built.prepared
    material = load_material(
        built.objects[p.spec_cid], built.objects.__getitem__, spec_cid=p.spec_cid, dataset_cid=p.dataset_cid
    )
    model = state_from_bytes(built.objects[p.model_cid], material.model_specs)
    shard, seed = material.shard(0), b"\x01" * 32
    trail = train_unit(material.spec, model, shard, seed, hardware=Hardware(threads=2))
    first, second = trail.checkpoints[0], trail.checkpoints[1]
    joined = lambda c: {**{f"m/{k}": v for k, v in c.model.items()}, **{f"o/{k}": v for k, v in c.optimizer.items()}}  # noqa: E731
    distances = {}
    for threads in (1, 2):
        with deterministic(threads):
            reached, _ = run_segment(material.spec, first, second.step, shard, seed)
        distances[threads] = relative_distance(joined(reached), joined(second))
    assert distances[2] == 0.0
    assert distances[1] > material.spec.tolerance
