"""The outbox relay: publishes committed outbox rows in ``id`` order and marks them sent.

One batch = one database transaction: claim up to ``batch_size`` pending rows (``FOR UPDATE
SKIP LOCKED`` on PostgreSQL, so several relays share the work without publishing a row
twice), publish them, mark the published ones sent, commit. The locks are held across the
publish on purpose: another relay must not take a row whose publish is in flight.

A relay that dies after SNS accepted a batch but before the commit leaves those rows
pending, and the next pass publishes them again with the same ``event_id``: delivery is
at-least-once and consumers deduplicate on ``event_id`` (DESIGN §5). Rows SNS does not take
stay pending with ``attempts`` and ``last_error`` set; nothing is ever dropped. When SNS is
down the pass stops and the long-running loop backs off (jittered, capped).

Order is by ``id`` within a relay, best effort across relays and around failed rows (a row
SNS refuses does not hold back later ones): the ledger's results do not depend on the
order of events (DESIGN §4), only on each being applied once.

SQLite has no row locks: run a single relay there (the engine's ``BEGIN IMMEDIATE``, see
``consumers.db.make_engine``, serialises writers anyway).
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from producers.outbox import outbox_table, utcnow
from producers.publisher import PublishError, PublishUnavailable
from schemas.envelope import parse_event
from schemas.errors import PermanentError
from schemas.events import Event

log = logging.getLogger(__name__)

PRUNE_CHUNK = 1000
MAX_ERRORS_KEPT = 10


class BatchPublisher(Protocol):
    """What the relay needs of a publisher (``producers.publisher.SnsPublisher``)."""

    def publish_batch(self, events: Sequence[Event]) -> list[str]: ...


#: Called with the claimed row ids after SNS accepted them and before they are marked sent;
#: tests use it to kill the relay at the worst moment.
AfterPublish = Callable[[Sequence[int]], None]


@dataclass(frozen=True)
class RelaySettings:
    batch_size: int = 100
    #: Seconds between passes when the outbox is empty.
    poll_interval: float = 1.0
    #: Sent rows older than this are deleted.
    retention: timedelta = timedelta(days=7)
    #: Seconds between prunes in the long-running loop.
    prune_interval: float = 300.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0


@dataclass
class RelayReport:
    """What one or more passes did; ``as_json`` is the CLI's ``--json`` output."""

    published: int = 0
    failed: int = 0
    pruned: int = 0
    passes: int = 0
    #: The latest errors (at most ``MAX_ERRORS_KEPT``); ``ok`` is False if there was any.
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def add(self, other: RelayReport) -> None:
        self.published += other.published
        self.failed += other.failed
        self.pruned += other.pruned
        self.passes += other.passes
        self.note(*other.errors)

    def note(self, *errors: str) -> None:
        self.errors = [*self.errors, *errors][-MAX_ERRORS_KEPT:]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Claimed:
    """Rows of one batch: decodable ones (ids and events, aligned) and the others' reasons."""

    ids: list[int]
    events: list[Event]
    undecodable: dict[int, str]

    @property
    def empty(self) -> bool:
        return not self.ids and not self.undecodable

    @property
    def last_id(self) -> int:
        return max([*self.ids, *self.undecodable])

    def published(self, message_ids: Sequence[str]) -> list[int]:
        return [row for row, mid in zip(self.ids, message_ids, strict=False) if mid]


class Relay:
    """Moves outbox rows of ``engine``'s database to SNS through ``publisher``."""

    def __init__(
        self,
        engine: Engine,
        publisher: BatchPublisher,
        settings: RelaySettings | None = None,
        *,
        after_publish: AfterPublish | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._engine = engine
        self._publisher = publisher
        self._settings = settings or RelaySettings()
        self._after_publish = after_publish
        self._clock = clock
        self._skip_locked = engine.dialect.name == "postgresql"

    def run_once(self) -> RelayReport:
        """One pass over the pending rows, then prune: ``points outbox relay --once``."""
        report = self.publish_pending()
        report.pruned = self.prune()
        return report

    def run(self, stop: threading.Event) -> RelayReport:
        """Relay until ``stop`` is set; back off while SNS or the database fails."""
        total = RelayReport()
        delay = 0.0
        next_prune = 0.0
        while not stop.is_set():
            report = self._guarded_pass()
            if self._clock().timestamp() >= next_prune:
                report.pruned = self._guarded_prune(report)
                next_prune = self._clock().timestamp() + self._settings.prune_interval
            total.add(report)
            delay = self._next_delay(report, delay)
            stop.wait(self._pause(report, delay))
        return total

    def publish_pending(self) -> RelayReport:
        """Sweep the pending rows once in ``id`` order; stop early if SNS is unavailable."""
        report = RelayReport(passes=1)
        after_id = 0
        while True:
            try:
                last_id = self._relay_batch(after_id, report)
            except PublishUnavailable as exc:
                report.note(str(exc))
                log.warning("SNS unavailable, rows stay pending: %s", exc)
                return report
            if last_id is None:
                return report
            after_id = last_id

    def prune(self) -> int:
        """Delete sent rows older than the retention, in chunks (short locks)."""
        cutoff = self._clock() - self._settings.retention
        pruned = 0
        while True:
            with self._engine.begin() as conn:
                chunk = (
                    sa.select(outbox_table.c.id)
                    .where(outbox_table.c.sent_at.is_not(None), outbox_table.c.sent_at < cutoff)
                    .limit(PRUNE_CHUNK)
                    .scalar_subquery()
                )
                deleted: Any = conn.execute(
                    outbox_table.delete().where(outbox_table.c.id.in_(chunk))
                )
            pruned += int(deleted.rowcount)
            if deleted.rowcount < PRUNE_CHUNK:
                return pruned

    def _relay_batch(self, after_id: int, report: RelayReport) -> int | None:
        """Claim, publish and mark one batch; the highest id claimed, None when none is left."""
        failure: PublishError | PublishUnavailable | None = None
        with self._engine.begin() as conn:
            claimed = self._claim(conn, after_id)
            if claimed.empty:
                return None
            try:
                message_ids = self._publish(claimed.events)
            except (PublishError, PublishUnavailable) as exc:
                failure, message_ids = exc, exc.message_ids
            sent = claimed.published(message_ids)
            if self._after_publish is not None:
                self._after_publish(sent)
            self._settle(conn, claimed, sent, failure)
        _count(report, claimed, sent, failure)
        if isinstance(failure, PublishUnavailable):
            raise failure
        return claimed.last_id

    def _settle(
        self, conn: Connection, claimed: _Claimed, sent: list[int], failure: Exception | None
    ) -> None:
        """Mark what SNS took as sent; everything else stays pending with its reason."""
        self._mark_sent(conn, sent)
        done = set(sent)
        unsent = [row for row in claimed.ids if row not in done]
        self._mark_failed(conn, unsent, str(failure or "not confirmed by SNS"))
        for row, reason in claimed.undecodable.items():
            self._mark_failed(conn, [row], reason)

    def _publish(self, events: list[Event]) -> list[str]:
        return self._publisher.publish_batch(events) if events else []

    def _claim(self, conn: Connection, after_id: int) -> _Claimed:
        query = (
            sa.select(outbox_table.c.id, outbox_table.c.body)
            .where(outbox_table.c.sent_at.is_(None), outbox_table.c.id > after_id)
            .order_by(outbox_table.c.id)
            .limit(self._settings.batch_size)
        )
        if self._skip_locked:
            query = query.with_for_update(skip_locked=True)
        claimed = _Claimed([], [], {})
        for row_id, body in conn.execute(query):
            try:
                claimed.events.append(parse_event(json.loads(body)))
                claimed.ids.append(row_id)
            except (PermanentError, ValueError) as exc:
                claimed.undecodable[row_id] = f"undecodable outbox row: {exc}"
        return claimed

    def _mark_sent(self, conn: Connection, ids: Sequence[int]) -> None:
        if ids:
            conn.execute(
                outbox_table.update()
                .where(outbox_table.c.id.in_(ids))
                .values(sent_at=self._clock(), last_error=None)
            )

    def _mark_failed(self, conn: Connection, ids: Sequence[int], reason: str) -> None:
        if ids:
            conn.execute(
                outbox_table.update()
                .where(outbox_table.c.id.in_(ids))
                .values(attempts=outbox_table.c.attempts + 1, last_error=reason[:2000])
            )

    def _guarded_pass(self) -> RelayReport:
        try:
            return self.publish_pending()
        except sa.exc.DBAPIError as exc:
            return RelayReport(passes=1, errors=[_database_error(exc)])

    def _guarded_prune(self, report: RelayReport) -> int:
        try:
            return self.prune()
        except sa.exc.DBAPIError as exc:
            report.note(_database_error(exc))
            return 0

    def _next_delay(self, report: RelayReport, delay: float) -> float:
        if report.ok:
            return 0.0
        return min(self._settings.backoff_max, max(self._settings.backoff_initial, delay * 2))

    def _pause(self, report: RelayReport, delay: float) -> float:
        if not report.ok:
            return random.uniform(delay / 2, delay)  # jitter: relays do not retry in lockstep
        return 0.0 if report.published else self._settings.poll_interval


def _count(
    report: RelayReport, claimed: _Claimed, sent: list[int], failure: Exception | None
) -> None:
    report.published += len(sent)
    report.failed += len(claimed.ids) - len(sent) + len(claimed.undecodable)
    if failure is not None and not isinstance(failure, PublishUnavailable):
        report.note(str(failure))
    report.note(*claimed.undecodable.values())


def _database_error(exc: sa.exc.DBAPIError) -> str:
    """Database outages must not end a long-running relay: report them and back off."""
    log.warning("outbox database unavailable: %s", exc)
    return f"database: {type(exc).__name__}: {exc}".splitlines()[0]
