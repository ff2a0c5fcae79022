"""The one way a task spec comes into dmlnet: its schema (:mod:`node.ml.spec`, pydantic, no torch) and then what
only the model's arithmetic can tell (a split cut's shapes and costs). Every reader of a spec goes through here:
the material's loader, the CLI's spec files and the built-in specs."""

from __future__ import annotations

from pydantic import ValidationError

from node.errors import SpecError
from node.ml import spec as sp
from node.ml.model import check_activations
from node.ml.split import plan_split
from node.store.canonical import describe_validation_error, parse_document


def checked(spec: sp.TaskSpec) -> sp.TaskSpec:
    """``spec`` once its model-level rules hold (the layers' shapes fit, the parameters and a batch's activations
    stay within their bounds, a split mode's cut leaves a public middle and the owner at most its share of the
    compute); :class:`SpecError` naming the field otherwise."""
    check_activations(spec.model, spec.training.batch_size)
    if spec.privacy.mode == "split":
        plan_split(spec.model, spec.privacy)
    return spec


def parse_spec(data: bytes) -> sp.TaskSpec:
    """A spec from its canonical JSON bytes (the stored object), checked."""
    return checked(parse_document(data, sp.TaskSpec))


def spec_from(document: object, what: str = "TaskSpec") -> sp.TaskSpec:
    """A spec from a parsed document (YAML, a built-in's fields), checked; errors name ``what`` and each field."""
    try:
        spec = sp.TaskSpec.model_validate(document)
    except ValidationError as err:
        raise SpecError(describe_validation_error(err, what)) from err
    return checked(spec)
