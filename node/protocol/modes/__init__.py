"""Task modes: each knows how a unit of its tasks is trained, published, verified and evaluated
(:class:`~node.protocol.modes.base.Mode`). :data:`MODES` is the one place a spec's privacy setting is read: a new
mode is one entry here and one module beside this one."""

from __future__ import annotations

from collections.abc import Callable

from node.ml import spec as sp
from node.ml.split import plan_split
from node.protocol.modes.base import Mode, TrailToJudge, TrainedUnit, UnitJob
from node.protocol.modes.plain import PlainMode
from node.protocol.modes.split import SplitMode

__all__ = ["MODES", "Mode", "PlainMode", "SplitMode", "TrailToJudge", "TrainedUnit", "UnitJob", "mode_of"]

# The spec's ``privacy.mode`` → the mode of a task with that spec.
MODES: dict[str, Callable[[sp.TaskSpec], Mode]] = {
    "none": PlainMode,
    "split": lambda spec: SplitMode(spec, plan_split(spec.model, spec.privacy)),
}


def mode_of(spec: sp.TaskSpec) -> Mode:
    """The mode of a task with ``spec`` (already checked: :mod:`node.ml.spec_check`)."""
    return MODES[spec.privacy.mode](spec)
