"""The one retry policy: which failures are retried, how often and how long to wait.

Modelled on dramatiq's ``Retries`` middleware: handlers and stores only *raise* — a
``TransientError`` (the store classified the driver's error once, see
``consumers.db.classify_db_error``; a lost race is ``RaceLost``) or anything else — and the
code that runs them decides here. The worker runtime wraps each batch in it, the ledger
jobs (expire, and later rules publish) each transaction, and the worker's start-up wait is
the same policy with a deadline instead of an attempt count. Nothing below the runtime
retries on its own, so attempts never multiply.

- ``retry_on``: retried (with bounded, jittered exponential backoff);
- ``throws``: never retried even when also a ``retry_on`` class (dramatiq's ``throws``);
- anything else propagates at once.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Final, ParamSpec, TypeVar

from tenacity import (
    AsyncRetrying,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    stop_any,
    stop_never,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from schemas.errors import ConfigurationError, PermanentError, TransientError

P = ParamSpec("P")
T = TypeVar("T")

Classes = tuple[type[BaseException], ...]

#: Attempts per unit of work (a batch, an expiry chunk): enough to ride out lock waits,
#: deadlock victims and lost races under contention; then SQS redelivery takes over.
DEFAULT_ATTEMPTS: Final = 8


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded, jittered retries of the failures that may heal; built once per process."""

    attempts: int | None = DEFAULT_ATTEMPTS
    #: Give up once this many seconds have passed since the first attempt (start-up wait).
    deadline_seconds: float | None = None
    initial_wait: float = 0.05
    max_wait: float = 2.0
    retry_on: Classes = (TransientError,)
    throws: Classes = (PermanentError, ConfigurationError)

    def retryable(self, error: BaseException) -> bool:
        """The one answer to "may this heal by retrying?"."""
        return isinstance(error, self.retry_on) and not isinstance(error, self.throws)

    def waiting(self, deadline_seconds: float, initial_wait: float, max_wait: float) -> RetryPolicy:
        """The same classification, bounded by time instead of attempts (start-up waits)."""
        return replace(
            self,
            attempts=None,
            deadline_seconds=deadline_seconds,
            initial_wait=initial_wait,
            max_wait=max_wait,
        )

    def call(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``work(*args)``, retried as the policy says; the last error is re-raised."""
        started = time.monotonic()
        try:
            return work(*args, **kwargs)  # the common case, without building a Retrying
        except Exception as error:
            if not self._again(error, started):
                raise
        return Retrying(**self._arguments(started))(work, *args, **kwargs)

    async def call_async(
        self, work: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """The same for a coroutine function (the worker runtime)."""
        started = time.monotonic()
        try:
            return await work(*args, **kwargs)
        except Exception as error:
            if not self._again(error, started):
                raise
        return await AsyncRetrying(**self._arguments(started))(work, *args, **kwargs)

    def _again(self, error: BaseException, started: float) -> bool:
        """Retry after the first failure? Retryable, and attempts and time are left."""
        if not self.retryable(error):
            return False
        if self.attempts is not None and self.attempts <= 1:
            return False
        elapsed = time.monotonic() - started
        return self.deadline_seconds is None or elapsed < self.deadline_seconds

    def _arguments(self, started: float) -> dict[str, Any]:
        """tenacity's arguments for the attempts after the first one."""
        stops: list[stop_base] = []
        if self.attempts is not None:
            stops.append(stop_after_attempt(self.attempts - 1))
        if self.deadline_seconds is not None:
            left = self.deadline_seconds - (time.monotonic() - started)
            stops.append(stop_after_delay(max(0.0, left)))
        return {
            "stop": stop_any(*stops) if stops else stop_never,
            "wait": wait_random_exponential(multiplier=self.initial_wait, max=self.max_wait),
            "retry": retry_if_exception(self.retryable),
            "reraise": True,
        }


#: The policy of a process that did not configure one (tests, library callers).
DEFAULT_POLICY: Final = RetryPolicy()
