"""The one retry policy (``consumers.retries.RetryPolicy``): what is retried, how often."""

from __future__ import annotations

import asyncio
import time

import pytest

from consumers.db import DatabaseMisconfigured, DatabaseUnavailable, DataRefused, RaceLost
from consumers.retries import RetryPolicy
from schemas.errors import TransientError

FAST = RetryPolicy(attempts=5, initial_wait=0.0001, max_wait=0.001)


class _Flaky:
    """Fails with ``errors`` in turn, then returns the number of calls."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.calls


def test_transient_failures_are_retried_until_success() -> None:
    """A database briefly away is retried; the caller sees only the eventual result."""
    work = _Flaky(DatabaseUnavailable("gone"), DatabaseUnavailable("gone"))
    assert FAST.call(work) == 3


def test_exhausted_retries_raise_the_last_transient_error() -> None:
    """After ``attempts`` calls the last TransientError reaches the caller (SQS takes over)."""
    work = _Flaky(*(DatabaseUnavailable(f"down {n}") for n in range(10)))
    with pytest.raises(DatabaseUnavailable, match="down 4"):
        FAST.call(work)
    assert work.calls == 5


def test_lost_races_are_retried_too() -> None:
    """A replanned batch (RaceLost) is transient like a serialization failure."""
    assert FAST.call(_Flaky(RaceLost("e1"))) == 2


def test_permanent_errors_are_not_retried() -> None:
    """A refusal of the data is raised at once, not retried."""
    work = _Flaky(DataRefused("NUL in text"))
    with pytest.raises(DataRefused):
        FAST.call(work)
    assert work.calls == 1


def test_configuration_errors_are_not_retried() -> None:
    """A missing database does not come back by waiting: raised at the first attempt."""
    work = _Flaky(DatabaseMisconfigured("POINTS_DATABASE_URL: database x does not exist"))
    waiting = FAST.waiting(60.0, initial_wait=0.5, max_wait=5.0)
    started = time.monotonic()
    with pytest.raises(DatabaseMisconfigured):
        waiting.call(work)
    assert work.calls == 1
    assert time.monotonic() - started < 1.0


def test_throws_wins_over_retry_on() -> None:
    """A class listed in ``throws`` is never retried even when it is also transient."""

    class Special(TransientError):
        pass

    policy = RetryPolicy(attempts=5, initial_wait=0, max_wait=0, throws=(Special,))
    work = _Flaky(Special("no"))
    with pytest.raises(Special):
        policy.call(work)
    assert work.calls == 1


def test_errors_that_are_not_ours_propagate_at_once() -> None:
    """A bug (any other exception) is not retried."""
    work = _Flaky(KeyError("bug"))
    with pytest.raises(KeyError):
        FAST.call(work)
    assert work.calls == 1


def test_a_waiting_policy_gives_up_at_its_deadline() -> None:
    """The start-up wait is bounded by time, not attempts."""
    waiting = RetryPolicy(attempts=2).waiting(0.2, initial_wait=0.01, max_wait=0.02)
    work = _Flaky(*(DatabaseUnavailable("refused") for _ in range(10_000)))
    with pytest.raises(DatabaseUnavailable):
        waiting.call(work)
    assert work.calls > 2  # attempts no longer bound it: the deadline does


def test_coroutines_are_retried_the_same_way() -> None:
    """``call_async`` (the worker runtime) follows the same policy."""
    work = _Flaky(RaceLost("e1"), DatabaseUnavailable("gone"))

    async def run() -> int:
        return work()

    assert asyncio.run(FAST.call_async(run)) == 3
