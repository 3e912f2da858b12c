"""Blocking work (a handler's transaction, a journal write) off the event loop, in daemon
threads that are kept and reused.

Like ``asyncio.to_thread``, but a thread never holds up process exit: a handler blocked on
a database that stopped answering must not keep a stopping worker alive past its grace
period (by then its messages were released to SQS, and the uncommitted transaction dies
with the process's connection). A thread is started only when none is idle, and waits for
the next call afterwards: starting one per batch cost ~0.1 ms of CPU, and ``Thread.start``
blocks the event loop until the new thread runs (milliseconds on a loaded host).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, Final, TypeVar

T = TypeVar("T")

THREAD_NAME: Final = "points-handler"

_Job = tuple[Callable[..., Any], tuple[Any, ...], asyncio.AbstractEventLoop, "asyncio.Future[Any]"]


class _DaemonThreads:
    """Daemon threads taking jobs from one queue; a new one only when none is idle."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0

    def submit(self, job: _Job) -> None:
        with self._lock:
            start = self._idle == 0
            if not start:
                self._idle -= 1  # that thread's next get() takes this job
        if start:
            threading.Thread(target=self._serve, name=THREAD_NAME, daemon=True).start()
        self._jobs.put(job)

    def _serve(self) -> None:
        while True:
            function, args, loop, future = self._jobs.get()
            try:
                outcome: tuple[Any, BaseException | None] = (function(*args), None)
            except BaseException as error:
                outcome = (None, error)
            # Idle before the caller hears back: its next call must find this thread.
            with self._lock:
                self._idle += 1
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                loop.call_soon_threadsafe(_settle, future, *outcome)
            del function, args, loop, future, outcome  # hold nothing while idle


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the awaiting task was cancelled
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


_THREADS: Final = _DaemonThreads()


async def in_daemon_thread(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` in a daemon thread; its result or exception comes back here."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    _THREADS.submit((function, args, loop, future))
    return await future
