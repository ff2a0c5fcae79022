"""The one retry policy of dmlnet: exponential backoff with full jitter, bounded by a number of attempts, by a
deadline, or both. RPC reads, store replicas, sending a signed transaction, waiting for a receipt, for a chain
to answer and for a task's material all retry through :func:`retry`; they differ only in what they retry on."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int | None = 6  # None: until the deadline
    base_delay_s: float = 0.2
    max_delay_s: float = 5.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(max, base·2^attempt)] (spreads retries of many clients apart)."""
        return rng.uniform(0.0, min(self.max_delay_s, self.base_delay_s * (2**attempt)))


def retry(
    action: Callable[[], T],
    *,
    retry_if: Callable[[Exception], bool],
    policy: RetryPolicy = RetryPolicy(),
    deadline_s: float | None = None,
    on_retry: Callable[[int, Exception], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Runs ``action`` until it returns. An exception ``retry_if`` accepts is retried after a backoff pause while
    attempts and the deadline allow; anything else, or the last failure, is raised as it is."""
    jitter = rng or random.Random()
    end = None if deadline_s is None else clock() + deadline_s
    attempt = 0
    while True:
        try:
            return action()
        except Exception as err:
            attempt += 1
            if not retry_if(err) or (policy.attempts is not None and attempt >= policy.attempts):
                raise
            pause = policy.delay(attempt - 1, jitter)
            if end is not None:
                left = end - clock()
                if left <= 0:
                    raise
                pause = min(pause, left)
            if on_retry is not None:
                on_retry(attempt, err)
            sleep(pause)
