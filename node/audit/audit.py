"""``dml audit ID``: a task's whole history rebuilt from events alone, every artifact fetched and its digest
checked, every aggregate and a sample of units (all with ``--full``) re-verified, and the money trail summed to
the wei. Findings name the unit and carry the evidence; any finding makes the audit fail."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from node.audit.rejections import explain_rejections, rejection_rows
from node.audit.report import accuracy_plot, html_page
from node.chain.contract import TaskMarket
from node.chain.events import jsonable
from node.chain.types import MAX_APPEAL_LEVEL, UnitStatus
from node.errors import DmlnetError, SpecError
from node.ml.evaluate import metric_name
from node.ml.manifest import TrailManifest, parse_trail
from node.ml.material import TaskMaterial
from node.ml.model import state_from_bytes
from node.ml.verify import Outcome
from node.protocol.judge import judge, judge_trail
from node.protocol.material import material_from, material_of
from node.protocol.modes import mode_of
from node.protocol.unit import unit_ref
from node.store.cid import to_cid
from node.store.client import StoreClient

# The latest rejections an audit re-judges (each re-executes a whole unit).
REJECTIONS_EXPLAINED = 20


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    detail: str
    round: int | None = None
    unit: int | None = None


@dataclass
class AuditReport:
    task_id: int
    findings: list[Finding] = field(default_factory=list)
    units_accepted: int = 0
    units_reverified: int = 0
    aggregates_reverified: int = 0
    artifacts_checked: int = 0
    money: dict[str, int] = field(default_factory=dict)
    # Each round's figure as its task's kind measures it (``metric``): accuracy, or a language model's validation loss.
    accuracy: dict[int, float] = field(default_factory=dict)
    metric: str = "accuracy"
    history: list[dict[str, Any]] = field(default_factory=list)
    # Every appeal: who challenged which verdict at which level, how it ended, and the wei its settlement moved.
    appeals: list[dict[str, Any]] = field(default_factory=list)
    # Every rejected result, re-judged: which check failed, where, by how much (node.audit.rejections).
    rejections: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


class _Auditor:
    def __init__(self, market: TaskMarket, store: StoreClient, task_id: int, report: AuditReport) -> None:
        self.market = market
        self.store = store
        self.task_id = task_id
        self.report = report

    def fetch(self, cid: str, what: str, round_: int | None = None, unit: int | None = None) -> bytes | None:
        try:
            data = self.store.get(cid)
        except DmlnetError as err:
            self.report.findings.append(Finding("artifact", f"{what} {cid}: {err}", round_, unit))
            return None
        self.report.artifacts_checked += 1
        return data


def audit_task(
    market: TaskMarket,
    store: StoreClient,
    task_id: int,
    *,
    from_block: int,
    full: bool = False,
    sample: int = 2,
    seed: int | None = None,
) -> AuditReport:
    report = AuditReport(task_id)
    a = _Auditor(market, store, task_id, report)
    reader = market.events()
    events = [e for e in reader.read(from_block, reader.head()) if e.args.get("taskId") == task_id]
    created = next((e for e in events if e.name == "TaskCreated"), None)
    if created is None:
        report.findings.append(Finding("history", f"no TaskCreated event for task {task_id} after block {from_block}"))
        return report
    raw_params = created.args["params"]
    params = list(raw_params.values()) if isinstance(raw_params, Mapping) else list(raw_params)
    budget = int(created.args["budget"])
    report.history = [
        {"block": e.block_number, "event": e.name, **{k: jsonable(v) for k, v in e.args.items()}} for e in events
    ]

    # Money: budget + slashed in − credited (rewards and refunds) = escrow now.
    slashed = sum(int(e.args["amount"]) for e in events if e.name == "StakeSlashed")
    credited = sum(int(e.args["amount"]) for e in events if e.name == "Credited")
    escrow = market.get_task(task_id).state.escrow
    report.money = {
        "budget": budget,
        "slashed_in": slashed,
        "credited": credited,
        "escrow": escrow,
        "contract_balance": market.balance(),
        "contract_owed": market.total_owed(),
    }
    if budget + slashed - credited != escrow:
        report.findings.append(
            Finding("money", f"budget {budget} + slashed {slashed} − credited {credited} ≠ escrow {escrow}")
        )
    if report.money["contract_balance"] < report.money["contract_owed"]:
        report.findings.append(Finding("money", "the contract holds less than it owes"))

    report.appeals = _appeals(events)
    for rejection in explain_rejections(market, store, task_id, from_block=from_block, limit=REJECTIONS_EXPLAINED):
        report.rejections.append(rejection.as_json())
        if rejection.outcome == Outcome.VALID.value:  # honest work rejected: its miner lost a bond for nothing
            report.findings.append(
                Finding(
                    "wrong rejection", f"the result re-executes: {rejection.reason}", rejection.round, rejection.unit
                )
            )

    units = int(params[4])
    accepted: dict[tuple[int, int], dict[str, Any]] = {}
    submitted: dict[tuple[int, int], dict[str, Any]] = {}
    for e in events:
        key = (int(e.args.get("round", -1)), int(e.args.get("index", -1)))
        if e.name == "ResultSubmitted":
            submitted[key] = dict(e.args)
        elif e.name == "UnitAccepted":
            accepted[key] = {**dict(e.args), "modelDigest": submitted[key]["modelDigest"] if key in submitted else b""}
    report.units_accepted = len(accepted)

    # The task's own material; without it units are still fetched and re-hashed, only not re-executed.
    spec_cid, dataset_cid = to_cid(bytes(params[0])), to_cid(bytes(params[1]))
    spec_bytes = a.fetch(spec_cid, "spec")
    manifest_bytes = a.fetch(dataset_cid, "dataset manifest")
    a.fetch(to_cid(bytes(params[2])), "initial model")
    material: TaskMaterial | None = None
    if spec_bytes is not None and manifest_bytes is not None:
        try:
            fetched = {spec_cid: spec_bytes, dataset_cid: manifest_bytes}  # fetched once above, each shard later
            material = material_from(spec_cid, dataset_cid, units, lambda cid: fetched.get(cid) or store.get(cid))
        except (SpecError, ValueError) as err:
            report.findings.append(Finding("spec", str(err)))
    if material is not None:  # every shard and the held-out part are there, and hash to their CIDs
        m = material.data.manifest
        for i, part in enumerate(m.shards) if full else ():
            a.fetch(part.cid, f"dataset shard {i}")
        a.fetch(m.test.cid, "dataset held-out part")

    rng = random.Random(seed if seed is not None else int.from_bytes(os.urandom(8), "big"))
    training = sorted(k for k in accepted if k[1] < units)
    chosen = set(training) if full else set(rng.sample(training, min(sample, len(training))))
    manifests: dict[tuple[int, int], TrailManifest] = {}
    for key in training:
        round_, index = key
        raw = a.fetch(to_cid(bytes(accepted[key]["resultDigest"])), "trail manifest", round_, index)
        if raw is None:
            continue
        try:
            manifests[key] = parse_trail(raw)
        except SpecError as err:
            report.findings.append(Finding("manifest", str(err), round_, index))
            continue
        for ref in manifests[key].checkpoints if full else manifests[key].checkpoints[-1:]:
            a.fetch(ref.model, "checkpoint model", round_, index)
            if full:
                a.fetch(ref.optimizer, "checkpoint optimizer state", round_, index)
        if key in chosen and material is not None:
            _reverify_unit(a, material, key, accepted[key], raw, rng)

    for round_ in range(int(params[3])):
        key = (round_, units)
        if key not in accepted:
            continue
        model_bytes = a.fetch(to_cid(bytes(accepted[key]["modelDigest"])), "global model", round_, units)
        if material is None:
            a.fetch(to_cid(bytes(accepted[key]["resultDigest"])), "aggregate manifest", round_, units)
            continue
        specs = material.model_specs
        results = {
            i: to_cid(bytes(accepted[(round_, i)]["resultDigest"])) for i in range(units) if (round_, i) in accepted
        }
        _reverify_aggregate(a, material, key, accepted[key], results)
        if model_bytes is not None:
            try:
                figure = mode_of(material.spec).evaluate(material, state_from_bytes(model_bytes, specs))
            except SpecError as err:
                report.findings.append(Finding("artifact", f"global model: {err}", round_, units))
            else:
                if figure is not None:  # None in split mode: the owner alone holds a whole model
                    report.accuracy[round_] = figure.headline[1]
                    report.metric = metric_name(figure)
    return report


def _reverify_unit(
    a: _Auditor,
    material: TaskMaterial,
    key: tuple[int, int],
    accepted: dict[str, Any],
    raw: bytes,
    rng: random.Random,
) -> None:
    round_, index = key
    ref = unit_ref(a.market, a.market.get_task(a.task_id), round_, index, str(accepted["miner"]))
    verdict = judge_trail(a.store.get, ref, raw, material, rng.randbytes(32))
    a.report.units_reverified += 1
    if verdict.outcome is not Outcome.VALID:
        evidence = "; ".join(f"segment {c.segment} distance {c.distance:.3g}" for c in verdict.segments)
        a.report.findings.append(Finding("wrong acceptance", f"{verdict.reason} [{evidence}]", round_, index))


def _reverify_aggregate(
    a: _Auditor,
    material: TaskMaterial,
    key: tuple[int, int],
    accepted: dict[str, Any],
    results: dict[int, str] | None = None,
) -> None:
    """The accepted aggregate judged as a verifier judges it (the one judge: its manifest names this task, round,
    unit, aggregator and the model the chain recorded, and the recomputation over the round's accepted results
    matches)."""
    round_, index = key
    result_cid = to_cid(bytes(accepted["resultDigest"]))
    if a.fetch(result_cid, "aggregate manifest", round_, index) is None:
        return
    ref = unit_ref(a.market, a.market.get_task(a.task_id), round_, index, str(accepted["miner"]))
    recorded = to_cid(bytes(accepted["modelDigest"]))
    verdict = judge(
        a.market, a.store.get, ref, result_cid=result_cid, model_cid=recorded, material=material, challenge=b"",
        results=results,
    )  # fmt: skip
    if verdict.outcome is Outcome.UNAVAILABLE:
        a.report.findings.append(Finding("artifact", verdict.reason, round_, index))
        return
    a.report.aggregates_reverified += 1
    if verdict.outcome is Outcome.INVALID:
        # The chain's record is what the next round trains from: an aggregate that is not the rule's is a lie.
        a.report.findings.append(Finding("wrong acceptance", verdict.reason, round_, index))


@dataclass(frozen=True, slots=True)
class OpenVerdict:
    """A verdict still open to challenge, and what the auditor's own re-execution says of the result."""

    round: int
    unit: int
    level: int
    verdict: bool
    ours: bool
    reason: str


def open_verdicts(market: TaskMarket, store: StoreClient, task_id: int) -> list[OpenVerdict]:
    """Re-executes every training unit of the task's current round whose verdict is still open to challenge
    (``dml audit --challenge`` appeals those where the two disagree)."""
    task = market.get_task(task_id)
    material = material_of(task, store.get)
    round_ = task.state.current_round
    out: list[OpenVerdict] = []
    for index, unit in enumerate(market.get_units(task_id, round_)[: task.params.units_per_round]):
        if unit.status is not UnitStatus.DECIDED or unit.level >= MAX_APPEAL_LEVEL:
            continue
        try:
            raw = store.get(to_cid(unit.result_digest))
        except DmlnetError as err:
            out.append(OpenVerdict(round_, index, unit.level, unit.verdict, False, f"result unavailable: {err}"))
            continue
        ref = unit_ref(market, task, round_, index, unit.miner)
        verdict = judge_trail(store.get, ref, raw, material, os.urandom(32))
        if verdict.outcome is not Outcome.UNAVAILABLE:
            out.append(OpenVerdict(round_, index, unit.level, unit.verdict, verdict.valid, verdict.reason))
    return out


def _appeals(events: list[Any]) -> list[dict[str, Any]]:
    """Each challenge with its outcome, in one pass over the events; an appeal's money is what the transaction
    settling its unit credited and slashed (every seat of every level, the challengers and the miner), to the wei."""
    by_tx: dict[str, list[Any]] = {}
    for e in events:
        by_tx.setdefault(e.tx_hash, []).append(e)
    out: list[dict[str, Any]] = []
    pending: dict[tuple[int, int, int], dict[str, Any]] = {}  # (round, unit, level) -> its entry, until it ends
    for e in events:
        if e.name not in ("VerdictChallenged", "ChallengeSettled"):
            continue
        key = (int(e.args["round"]), int(e.args["index"]), int(e.args["level"]))
        if e.name == "VerdictChallenged":
            pending[key] = {
                "round": key[0], "unit": key[1], "level": key[2], "challenger": e.args["challenger"],
                "bond": int(e.args["bond"]), "outcome": "pending",
            }  # fmt: skip
            out.append(pending[key])
            continue
        entry = pending.pop(key)
        entry["outcome"] = "upheld" if e.args["upheld"] else "dismissed"
        entry["reward"] = int(e.args["reward"])
        settling = by_tx[e.tx_hash]
        entry["credited"] = sum(int(x.args["amount"]) for x in settling if x.name == "Credited")
        entry["slashed"] = sum(int(x.args["amount"]) for x in settling if x.name == "StakeSlashed")
    return out


def write_report(report: AuditReport, directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / f"audit-task-{report.task_id}.json"
    document = {"ok": report.ok, **asdict(report)}
    json_path.write_text(json.dumps(document, indent=2, default=jsonable) + "\n")
    image = f"audit-task-{report.task_id}.png"
    title = f"task {report.task_id}: {report.metric} per round"
    accuracy_plot(directory / image, report.accuracy, None, title, metric=report.metric)
    findings = [("kind", "round", "unit", "detail")] + [
        (f.kind, "" if f.round is None else f.round + 1, "" if f.unit is None else f.unit, f.detail)
        for f in report.findings
    ]
    html_path = directory / f"audit-task-{report.task_id}.html"
    html_path.write_text(
        html_page(
            f"audit of task {report.task_id}: {'PASS' if report.ok else 'FAIL'}",
            [
                (
                    "Checks",
                    [
                        ("check", "count"),
                        ("units accepted", report.units_accepted),
                        ("units re-executed", report.units_reverified),
                        ("aggregates recomputed", report.aggregates_reverified),
                        ("artifacts fetched and re-hashed", report.artifacts_checked),
                    ],
                ),
                ("Money trail (wei)", [("bucket", "wei"), *report.money.items()]),
                (
                    "Appeals",
                    [
                        ("round", "unit", "level", "challenger", "bond", "outcome", "credited", "slashed"),
                        *(
                            (
                                x["round"] + 1,
                                x["unit"],
                                x["level"],
                                x["challenger"],
                                x["bond"],
                                x["outcome"],
                                x.get("credited", ""),
                                x.get("slashed", ""),
                            )
                            for x in report.appeals
                        ),
                    ]
                    if report.appeals
                    else "none",
                ),
                ("Rejected results, re-judged", rejection_rows(report.rejections) if report.rejections else "none"),
                ("Findings", findings if report.findings else "none"),
            ],
            image,
        )
    )
    return json_path, html_path
