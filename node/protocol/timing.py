"""Work that takes time against deadlines that do not wait: a miner's training, a verifier's re-execution. Both
time what they did and ask, before the next job, whether it would end past a deadline they already owe."""

from __future__ import annotations

from collections.abc import Iterable

# A job's length is estimated as this many times the longest one timed, plus SAFETY_S seconds.
SAFETY_FACTOR, SAFETY_S = 1.5, 10.0


class JobTimer:
    """The longest job so far, and what one more would take (with the margin)."""

    def __init__(self) -> None:
        self.longest_s = 0.0

    @property
    def timed(self) -> bool:
        return self.longest_s > 0.0

    def record(self, seconds: float) -> None:
        self.longest_s = max(self.longest_s, seconds)

    def estimate_s(self) -> float:
        return SAFETY_FACTOR * self.longest_s + SAFETY_S

    def would_outlast(self, deadlines: Iterable[int], *, now: float) -> bool:
        """Whether one more job started at ``now`` (chain seconds) would end past one of ``deadlines``."""
        done_by = now + self.estimate_s()
        return any(deadline < done_by for deadline in deadlines)
