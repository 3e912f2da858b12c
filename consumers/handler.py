"""The port between the worker runtime and business handlers.

A handler gets decoded v1 events and knows nothing about SQS: it says, per event, whether
the event was applied, was a harmless duplicate, or must be rejected permanently. A failure
that may heal (database down) is raised as a ``TransientError`` for the whole batch.
Handlers are synchronous (SQLAlchemy); the runtime calls them in a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from schemas.errors import PermanentError
from schemas.events import Event


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    error: PermanentError | None = None

    @classmethod
    def applied(cls) -> Result:
        return cls(Outcome.APPLIED)

    @classmethod
    def duplicate(cls) -> Result:
        return cls(Outcome.DUPLICATE)

    @classmethod
    def rejected(cls, error: PermanentError) -> Result:
        return cls(Outcome.REJECTED, error)


class Handler(Protocol):
    """Applies a batch of events; returns one ``Result`` per event, in input order.

    Must be idempotent per ``event_id`` (redelivery and redrive are normal), must not let
    one poison event stop the others, and raises ``TransientError`` only when nothing of
    the batch could be decided.
    """

    def handle_batch(self, events: Sequence[Event]) -> list[Result]: ...
