"""The handler's daemon threads are reused, not started per batch."""

from __future__ import annotations

import asyncio
import threading

from consumers.runtime.threads import THREAD_NAME, in_daemon_thread


def _handler_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == THREAD_NAME}


def test_four_pollers_making_many_calls_use_at_most_four_threads() -> None:
    """200 calls from each of 4 concurrent callers start no more than 4 new threads, and
    every call returns its own result."""
    before = _handler_threads()

    async def poller(n: int) -> list[int]:
        return [await in_daemon_thread(lambda i=i: i * n) for i in range(200)]

    async def scenario() -> list[list[int]]:
        return list(await asyncio.gather(*(poller(n) for n in range(4))))

    results = asyncio.run(scenario())
    assert results == [[i * n for i in range(200)] for n in range(4)]
    assert len(_handler_threads() - before) <= 4
    assert all(t.daemon for t in _handler_threads())
