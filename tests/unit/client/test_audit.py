"""The audit's aggregate check against the chain's record, on a local store (no chain: the check needs none)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from client.audit import AuditReport, _Auditor, _reverify_aggregate
from node.chain.contract import TaskMarket
from node.ml.manifest import AggregateInput, publish_aggregate
from node.ml.model import build_module, state_of
from node.store.canonical import canonical_bytes
from node.store.cid import to_digest
from node.store.client import StoreClient
from tests.unit.ml.helpers import small_spec

ADDRESS = "0x" + "11" * 20


def test_an_aggregate_manifest_naming_another_model_than_the_chain_is_a_finding(tmp_path: Path) -> None:
    store = StoreClient.from_endpoints([str(tmp_path / "store")])
    spec = small_spec()
    spec_cid = store.put(canonical_bytes(spec))
    published = store.put(b"the model the manifest names")
    recorded = store.put(b"the model the chain recorded")
    inputs = [AggregateInput(index=0, result=published, model=published, samples=1)]
    manifest, manifest_cid, model_cid = publish_aggregate(
        state_of(build_module(spec.model)), inputs, store.put, task_id=1, round_=0, index=1,
        aggregator=ADDRESS, spec_cid=spec_cid, rule="fedavg",
    )  # fmt: skip
    report = AuditReport(1)
    auditor = _Auditor(cast(TaskMarket, None), store, 1, report)  # the check reads no chain
    accepted: dict[str, Any] = {"resultDigest": to_digest(manifest_cid), "modelDigest": to_digest(recorded)}
    _reverify_aggregate(auditor, spec, {}, set(), (0, 1), accepted, {}, 1)
    assert [f.kind for f in report.findings] == ["aggregate"]
    assert f"the manifest's model {model_cid} is not the chain's {recorded}" in report.findings[0].detail
    assert manifest.model == model_cid
