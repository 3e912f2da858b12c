"""Fakes of our own ports for runtime unit tests (never of the runtime itself)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from consumers.handler import Result
from schemas.errors import IdempotencyConflict, TransientError
from schemas.events import Event


class FakeHandler:
    """An idempotent handler that remembers applied event ids.

    ``outage`` raises a transient error for the next N calls; ``conflicts`` rejects those
    event ids; ``delay`` makes each call slow (to exercise heartbeats and shutdown).
    """

    def __init__(self, *, outage: int = 0, conflicts: Sequence[str] = (), delay: float = 0.0):
        self.applied: list[str] = []
        self.calls = 0
        self.outage = outage
        self.conflicts = set(conflicts)
        self.delay = delay
        self.crash: Exception | None = None
        self._lock = threading.Lock()

    def handle_batch(self, events: Sequence[Event]) -> list[Result]:
        with self._lock:
            self.calls += 1
            if self.outage > 0:
                self.outage -= 1
                raise TransientError("database is down")
            if self.crash is not None:
                raise self.crash
        if self.delay:
            time.sleep(self.delay)
        results = []
        with self._lock:
            for event in events:
                if event.event_id in self.conflicts:
                    conflict = IdempotencyConflict(f"{event.event_id} differs")
                    results.append(Result.rejected(conflict))
                elif event.event_id in self.applied:
                    results.append(Result.duplicate())
                else:
                    self.applied.append(event.event_id)
                    results.append(Result.applied())
        return results
