"""Accuracy per round for the task pages: each accepted aggregate's model, fetched from the store by its digest
and evaluated on the task's held-out split (the same loader and evaluation as the owner's progress view).

Evaluated once per round and kept in the index; a task whose material cannot be used is noted and left alone,
and a store that does not answer is tried again on the next pass.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable

from explorer.index import Index
from node.errors import DmlnetError, SpecError
from node.ml.baseline import centralized
from node.ml.evaluate import evaluate, metric_name
from node.ml.material import TaskMaterial
from node.ml.model import state_from_bytes
from node.protocol.material import material_from
from node.protocol.modes import mode_of
from node.store.cid import normalize

log = logging.getLogger(__name__)


# Training steps of a task's centralized baseline this explorer computes at most (the digits demo: 9,600).
BASELINE_MAX_STEPS = 50_000
# The centralized baseline trains on the union of a task's shards, so it holds them all: not past this size.
BASELINE_MAX_BYTES = 512 << 20


class AccuracyTracker:
    """Evaluates aggregates the index shows accepted and not yet evaluated, at most ``per_pass`` per call; and,
    once a task has a figure, its centralized baseline (the same steps on the union of the shards, from the same
    initial model) when that costs at most ``baseline_max_steps`` steps."""

    def __init__(
        self,
        index: Index,
        fetch: Callable[[str], bytes],
        *,
        per_pass: int = 4,
        baseline_max_steps: int = BASELINE_MAX_STEPS,
    ) -> None:
        self._index = index
        self._fetch = fetch
        self._per_pass = per_pass
        self._baseline_max_steps = baseline_max_steps
        self._materials: dict[int, TaskMaterial] = {}

    def pending(self) -> list[sqlite3.Row]:
        """Accepted aggregates without an accuracy yet, oldest first."""
        return self._index.query(
            "SELECT u.task_id, u.round, u.model_digest, t.params FROM units u JOIN tasks t ON t.task_id = u.task_id "
            "WHERE u.status = 'accepted' AND u.idx = t.units_per_round AND u.model_digest IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM accuracy a WHERE a.task_id = u.task_id AND a.round = u.round "
            "AND a.model = u.model_digest) "
            "AND NOT EXISTS (SELECT 1 FROM unusable_tasks x WHERE x.task_id = u.task_id) "
            "ORDER BY u.updated_block LIMIT ?",
            (self._per_pass,),
        )

    def evaluate_pending(self) -> int:
        """Evaluates what is pending; returns how many rounds got a figure."""
        done = 0
        for row in self.pending():
            task_id, round_, model = int(row["task_id"]), int(row["round"]), str(row["model_digest"])
            try:
                material = self._material(task_id, str(row["params"]))
                figure = mode_of(material.spec).evaluate(
                    material, state_from_bytes(self._fetch(normalize(model)), material.model_specs)
                )
            except SpecError as err:
                self._set_aside(task_id, str(err))
                continue
            except DmlnetError as err:
                log.info("accuracy waits for the store", extra={"task": task_id, "round": round_, "error": str(err)})
                return done
            if figure is None:
                self._set_aside(task_id, "split mode: only the owner's node holds the whole model")
                continue
            with self._index.transaction() as db:
                db.execute(
                    "INSERT OR REPLACE INTO accuracy VALUES (?, ?, ?, ?, ?)",  # a reorganised round: replaced
                    (task_id, round_, model, figure.accuracy, figure.loss),
                )
                db.execute("INSERT OR REPLACE INTO metrics VALUES (?, ?)", (task_id, metric_name(figure)))
            done += 1
        self._baselines()
        return done

    def _baselines(self) -> None:
        rows = self._index.query(
            "SELECT t.task_id, t.params FROM tasks t WHERE EXISTS (SELECT 1 FROM accuracy a WHERE a.task_id = "
            "t.task_id) AND NOT EXISTS (SELECT 1 FROM baselines b WHERE b.task_id = t.task_id) "
            "AND NOT EXISTS (SELECT 1 FROM unusable_tasks x WHERE x.task_id = t.task_id) LIMIT 1"
        )
        for row in rows:
            task_id, params = int(row["task_id"]), json.loads(row["params"])
            try:
                material = self._material(task_id, str(row["params"]))
                steps = int(params["rounds"]) * int(params["unitsPerRound"]) * material.spec.training.local_steps
                if steps > self._baseline_max_steps:
                    self._set_baseline(task_id, None, steps, f"{steps} steps: more than this explorer trains")
                    continue
                held = material.data.training_bytes
                if held > BASELINE_MAX_BYTES:
                    note = f"{held >> 20} MB of shards: more than this explorer holds"
                    self._set_baseline(task_id, None, steps, note)
                    continue
                initial = state_from_bytes(self._fetch(normalize(params["initialModelDigest"])), material.model_specs)
                shards, test = list(material.data.shards()), material.test_set()
            except SpecError as err:
                self._set_aside(task_id, str(err))
                continue
            except DmlnetError as err:
                log.info("baseline waits for the store", extra={"task": task_id, "error": str(err)})
                return
            model = centralized(material.spec, initial, shards, steps)
            figure = evaluate(material.spec.model, model, test)
            self._set_baseline(task_id, figure.headline[1], steps, None)  # accuracy, or a language model's loss

    def _set_baseline(self, task_id: int, accuracy: float | None, steps: int, note: str | None) -> None:
        with self._index.transaction() as db:
            db.execute("INSERT OR REPLACE INTO baselines VALUES (?, ?, ?, ?)", (task_id, accuracy, steps, note))

    def _material(self, task_id: int, params_json: str) -> TaskMaterial:
        if task_id not in self._materials:
            params = json.loads(params_json)
            spec_cid, dataset_cid = normalize(params["specDigest"]), normalize(params["datasetDigest"])
            try:
                units = int(params["unitsPerRound"])
                self._materials[task_id] = material_from(spec_cid, dataset_cid, units, self._fetch)
            except ValueError as err:
                raise SpecError(f"the task's data cannot be used: {err}") from err
        return self._materials[task_id]

    def _set_aside(self, task_id: int, reason: str) -> None:
        log.warning("no accuracy for this task", extra={"task": task_id, "reason": reason})
        with self._index.transaction() as db:
            db.execute("INSERT OR REPLACE INTO unusable_tasks VALUES (?, ?)", (task_id, reason[:500]))
