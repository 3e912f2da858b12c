"""Bounded, jittered retries around a ledger transaction (``store.with_retries``)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from consumers.db import DatabaseUnavailable
from consumers.points.store import RaceLost, with_retries


class _Deadlock(Exception):
    sqlstate = "40P01"


def _deadlock() -> sa.exc.DBAPIError:
    return sa.exc.DBAPIError("UPDATE …", None, _Deadlock("deadlock detected"))


def test_transient_failures_are_retried_until_success() -> None:
    """A deadlock victim is retried; the caller sees only the eventual result."""
    calls: list[int] = []

    def work() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise _deadlock()
        return "done"

    assert with_retries(work, attempts=5, max_wait=0.001) == "done"
    assert len(calls) == 3


def test_exhausted_retries_become_database_unavailable() -> None:
    """When every attempt fails transiently the batch fails with a TransientError."""

    def work() -> None:
        raise _deadlock()

    with pytest.raises(DatabaseUnavailable, match="deadlock"):
        with_retries(work, attempts=3, max_wait=0.001)


def test_lost_races_are_retried_too() -> None:
    """A replanned batch (RaceLost) is retried like a serialization failure."""
    calls: list[int] = []

    def work() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RaceLost("e1")
        return len(calls)

    assert with_retries(work, attempts=3, max_wait=0.001) == 2


def test_permanent_errors_are_not_retried() -> None:
    """An integrity error is about the data: raised at once, not retried."""
    calls: list[int] = []

    def work() -> None:
        calls.append(1)
        raise sa.exc.IntegrityError("INSERT …", None, Exception("duplicate key"))

    with pytest.raises(sa.exc.IntegrityError):
        with_retries(work, attempts=5, max_wait=0.001)
    assert len(calls) == 1
