from __future__ import annotations

import random

import pytest

from node.retry import RetryPolicy, retry


class Flaky:
    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "done"


def test_retry_until_success_within_attempts_with_bounded_jittered_pauses() -> None:
    pauses: list[float] = []
    seen: list[int] = []
    action = Flaky(3, ConnectionError("down"))
    result = retry(
        action, retry_if=lambda e: isinstance(e, ConnectionError), policy=RetryPolicy(5, 0.1, 0.3),
        sleep=pauses.append, rng=random.Random(1), on_retry=lambda n, _e: seen.append(n),
    )  # fmt: skip
    assert (result, action.calls, seen) == ("done", 4, [1, 2, 3])
    assert all(0 <= p <= bound for p, bound in zip(pauses, [0.1, 0.2, 0.3], strict=True))


def test_retry_raises_the_last_failure_after_the_attempts() -> None:
    action = Flaky(10, ConnectionError("down"))
    with pytest.raises(ConnectionError):
        retry(action, retry_if=lambda e: True, policy=RetryPolicy(3), sleep=lambda _s: None)
    assert action.calls == 3


def test_retry_does_not_retry_what_the_predicate_refuses() -> None:
    action = Flaky(1, ValueError("an answer, not a fault"))
    with pytest.raises(ValueError, match="an answer"):
        retry(action, retry_if=lambda e: isinstance(e, ConnectionError), sleep=lambda _s: None)
    assert action.calls == 1


def test_retry_by_deadline_stops_when_time_is_up() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    action = Flaky(1000, TimeoutError("slow"))
    with pytest.raises(TimeoutError):
        retry(
            action, retry_if=lambda e: True, policy=RetryPolicy(None, 1.0, 1.0), deadline_s=10.0,
            sleep=sleep, clock=lambda: now[0], rng=random.Random(0),
        )  # fmt: skip
    assert now[0] <= 10.0
    assert action.calls > 5
