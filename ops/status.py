"""``points dlq status REDRIVE_ID``: what became of each message a redrive moved.

Per moved message, from the ledger database alone: ``failed_again`` when the failure
journal has a permanent failure for the copy the redrive sent (or SQS gave up on it after
maxReceiveCount receives), ``applied`` when its event is in the consumer's store (applied
then, or before: a duplicate changes nothing), else ``queued`` (with the last transient
error, if the worker is retrying it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from consumers.journal import Failure, latest_failures
from infra.settings import Config
from infra.topology import MAX_RECEIVE_COUNT
from ops.audit import AuditEntry, AuditLog, Move
from ops.errors import OpsError

State = Literal["applied", "queued", "failed_again"]
STATES: Final[tuple[State, ...]] = ("applied", "queued", "failed_again")
#: Where each consumer keeps the events it applied (its idempotency key).
APPLIED_EVENTS: Final = {"points": "ledger_events", "notifications": "notifications"}
_CHUNK: Final = 500


class UnknownRedrive(OpsError):
    """No redrive has this id."""


@dataclass(frozen=True)
class MovedMessage:
    move: Move
    state: State
    reason: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "dlq_message_id": self.move.dlq_message_id,
            "message_id": self.move.message_id,
            "original_message_id": self.move.original_message_id,
            "event_id": self.move.event_id,
            "state": self.state,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class RedriveStatus:
    redrive: AuditEntry
    messages: list[MovedMessage]

    @property
    def counts(self) -> dict[str, int]:
        found = Counter(m.state for m in self.messages)
        return {state: found[state] for state in STATES}

    def as_json(self) -> dict[str, Any]:
        return {
            "redrive_id": self.redrive.id,
            "queue": self.redrive.arguments.get("queue"),
            "at": self.redrive.started_at.isoformat(),
            "actor": self.redrive.actor,
            "reason": self.redrive.reason,
            "outcome": self.redrive.outcome,
            "moved": len(self.messages),
            **self.counts,
            "messages": [m.as_json() for m in self.messages],
        }


def redrive_status(config: Config, redrive_id: int) -> RedriveStatus:
    log = AuditLog.open(config.points.database_url)
    try:
        found = [e for e in log.entries(action_id=redrive_id) if e.command == "dlq redrive"]
        if not found:
            raise UnknownRedrive(f"no redrive with id {redrive_id} (see `points audit`)")
        moves = log.moves(redrive_id)
        return RedriveStatus(found[0], classify(log.engine, moves))
    finally:
        log.close()


def classify(engine: Engine, moves: Sequence[Move]) -> list[MovedMessage]:
    failures: dict[str, Failure] = {}
    for chunk in _chunks([m.message_id for m in moves]):
        failures.update(latest_failures(engine, message_ids=chunk, event_ids=[]))
    applied: set[str] = set()
    for queue in {m.queue for m in moves}:
        events = [m.event_id for m in moves if m.queue == queue and m.event_id]
        applied |= _applied(engine, queue, events)
    return [_state(m, failures.get(m.message_id), applied) for m in moves]


def _state(move: Move, failure: Failure | None, applied: set[str]) -> MovedMessage:
    if failure is not None and (failure.permanent or failure.attempts >= MAX_RECEIVE_COUNT):
        how = (
            ""
            if failure.permanent
            else f" (SQS dead-lettered it after {failure.attempts} receives)"
        )
        return MovedMessage(
            move, "failed_again", f"{failure.error_type}: {failure.error_message}{how}"
        )
    if move.event_id is not None and move.event_id in applied:
        return MovedMessage(move, "applied", None)
    retrying = f"retrying: {failure.error_type}: {failure.error_message}" if failure else None
    return MovedMessage(move, "queued", retrying)


def _applied(engine: Engine, queue: str, event_ids: list[str]) -> set[str]:
    name = APPLIED_EVENTS.get(queue)
    if name is None or not sa.inspect(engine).has_table(name):
        return set()
    table = sa.table(name, sa.column("event_id"))
    found: set[str] = set()
    with engine.connect() as connection:
        for chunk in _chunks(event_ids):
            query = sa.select(table.c.event_id).where(table.c.event_id.in_(chunk))
            found.update(connection.execute(query).scalars())
    return found


def _chunks(items: Iterable[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == _CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch
