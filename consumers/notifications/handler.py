"""The notifications consumer: tells cardholders about approved authorizations, clearings,
chargebacks (and their reversals) and points grants.

Rendering is idempotent per ``event_id`` (the stored row is the idempotency record, in the
same transaction as the render), and sending happens only for newly stored notifications,
after commit: a crash between commit and send loses a courtesy message, never a point.
The points figure is an estimate for the message from the event alone; the ledger decides.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, assert_never

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from consumers.db import RaceLost, raise_classified
from consumers.handler import Result
from consumers.notifications.tables import notifications
from consumers.points.amounts import pts
from consumers.points.rules import Rules
from schemas.events import (
    Authorization,
    AuthorizationReversal,
    Chargeback,
    ChargebackReversal,
    Clearing,
    Event,
    PaymentEvent,
    PointsGrant,
    Refund,
    RefundReversal,
)

logger = logging.getLogger("points.notifications")


#: ``Notification.payment_id`` of a notification about no payment (a points grant).
NO_PAYMENT = ""


@dataclass(frozen=True)
class Notification:
    event_id: str
    account_id: str
    payment_id: str
    kind: str
    text: str


class NotificationSender(Protocol):
    """Delivers a rendered notification (push, mail, …). Must not raise for one bad address."""

    def send(self, notification: Notification) -> None: ...


class LoggingSender:
    """The default sender: logs that a notification would be sent (never its text)."""

    def send(self, notification: Notification) -> None:
        logger.info(
            "notification sent",
            extra={"event_id": notification.event_id, "payment_id": notification.payment_id},
        )


def render(event: Event, rules: Rules) -> Notification | None:
    """The user-facing line for an event, or None when there is nothing to tell."""
    match event:
        case Authorization(approved=True):
            return _earning(event, rules, kind="authorization", state="pending")
        case Clearing():
            return _earning(event, rules, kind="clearing", state="confirmed")
        case Chargeback():
            return _payment(event, "chargeback", "dispute accepted, the amount is returned")
        case ChargebackReversal():
            return _payment(event, "chargeback_reversal", "dispute decided for the merchant")
        case Authorization() | AuthorizationReversal() | Refund() | RefundReversal():
            return None
        case PointsGrant():
            return _grant(event)
        case _:
            assert_never(event)


def _earning(
    event: Authorization | Clearing, rules: Rules, *, kind: str, state: str
) -> Notification:
    rate = rules.for_anchor(event.occurred_at).rate_bp(event.brand, event.merchant.mcc)
    earned = pts(event.amount, rate)
    return _payment(event, kind, f"{_points(earned)} {state}")


def _payment(event: PaymentEvent, kind: str, what: str) -> Notification:
    text = f"¥{event.amount:,} at {event.merchant.name}: {what}"
    return Notification(event.event_id, event.account_id, event.payment_id, kind, text)


def _grant(event: PointsGrant) -> Notification:
    """``500 points added (referral)``; never the memo, which is not for the cardholder's eyes
    by default (it is stored but never logged, DESIGN §3)."""
    verb = "added" if event.points > 0 else "taken back"
    text = f"{_points(abs(event.points))} {verb} ({event.reason.value})"
    # The column is NOT NULL since migration 0001; a grant belongs to no payment.
    return Notification(event.event_id, event.account_id, NO_PAYMENT, "points_grant", text)


def _points(count: int) -> str:
    return f"{count} {'point' if count == 1 else 'points'}"


class NotificationsHandler:
    def __init__(self, engine: Engine, rules: Rules, sender: NotificationSender | None = None):
        self._engine = engine
        self._rules = rules
        self._sender = sender or LoggingSender()

    def handle_batch(self, events: Sequence[Event]) -> list[Result]:
        rendered = {e.event_id: render(e, self._rules) for e in events}
        try:
            fresh = self._store([n for n in rendered.values() if n is not None])
        except sa.exc.IntegrityError as error:
            # Another worker stored one of them between our read and our insert: a retry's
            # read sees it (the runtime retries transient errors).
            raise RaceLost("a concurrent worker stored some of these notifications") from error
        except sa.exc.SQLAlchemyError as error:
            raise_classified(error)  # transient ones are retried by the runtime
            raise
        for notification in fresh:
            self._sender.send(notification)
        fresh_ids = {n.event_id for n in fresh}
        return [
            Result.applied()
            if rendered[e.event_id] is None or e.event_id in fresh_ids
            else Result.duplicate()
            for e in events
        ]

    def _store(self, batch: list[Notification]) -> list[Notification]:
        """Insert the notifications not stored yet; returns those (in one transaction)."""
        if not batch:
            return []
        unique = list({n.event_id: n for n in batch}.values())
        with self._engine.begin() as connection:
            known = set(
                connection.scalars(
                    sa.select(notifications.c.event_id).where(
                        notifications.c.event_id.in_([n.event_id for n in unique])
                    )
                )
            )
            fresh = [n for n in unique if n.event_id not in known]
            if fresh:
                now = datetime.now(UTC)
                connection.execute(
                    notifications.insert(),
                    [
                        {
                            "event_id": n.event_id,
                            "account_id": n.account_id,
                            "payment_id": n.payment_id,
                            "kind": n.kind,
                            "text": n.text,
                            "created_at": now,
                        }
                        for n in fresh
                    ],
                )
        return fresh
