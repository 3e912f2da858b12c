"""The notifications handler on a real database: render once, send once."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from consumers.db import make_engine, upgrade
from consumers.handler import Outcome
from consumers.notifications.handler import (
    NO_PAYMENT,
    Notification,
    NotificationsHandler,
    render,
)
from consumers.notifications.tables import notifications
from consumers.points.rules import Rules
from tests.support.factories import make_event, make_grant


class RecordingSender:
    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def send(self, notification: Notification) -> None:
        self.sent.append(notification)


@pytest.fixture
def engine(sqlite_url: str) -> Engine:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    return engine


def test_authorization_renders_pending_points() -> None:
    """An approved Visa authorization of ¥1,200 at LAWSON tells of 12 pending points."""
    notification = render(make_event("authorization", amount=1200), Rules())
    assert notification is not None
    assert notification.text == "¥1,200 at LAWSON: 12 points pending"


def test_clearing_renders_confirmed_points() -> None:
    """A QUICPay clearing earns at 0.5 %, floored."""
    notification = render(make_event("clearing", brand="quicpay", amount=3999), Rules())
    assert notification is not None
    assert notification.text == "¥3,999 at LAWSON: 19 points confirmed"


def test_excluded_merchant_renders_zero_points() -> None:
    """An excluded MCC still notifies the payment, with 0 points."""
    merchant = {"name": "WIRE", "mcc": "4829", "country": "JP"}
    notification = render(make_event("clearing", merchant=merchant), Rules())
    assert notification is not None
    assert notification.text.endswith(": 0 points confirmed")


@pytest.mark.parametrize(
    ("event_type", "overrides"),
    [
        ("authorization", {"approved": False}),
        ("authorization_reversal", {}),
        ("refund", {}),
        ("refund_reversal", {}),
    ],
)
def test_nothing_to_tell_for_declines_reversals_and_refunds(
    event_type: str, overrides: dict[str, object]
) -> None:
    """Declined authorizations, reversals, refunds and refund reversals produce no
    notification."""
    assert render(make_event(event_type, **overrides), Rules()) is None


@pytest.mark.parametrize(
    ("event_type", "text"),
    [
        ("chargeback", "¥1,200 at LAWSON: dispute accepted, the amount is returned"),
        ("chargeback_reversal", "¥1,200 at LAWSON: dispute decided for the merchant"),
    ],
)
def test_chargebacks_tell_the_dispute_outcome(event_type: str, text: str) -> None:
    """The cardholder hears how a dispute ended, for the payment it concerns."""
    notification = render(make_event(event_type), Rules())
    assert notification is not None
    assert (notification.kind, notification.payment_id, notification.text) == (
        event_type,
        "pay-1",
        text,
    )


@pytest.mark.parametrize(
    ("points", "reason", "text"),
    [
        (500, "referral", "500 points added (referral)"),
        (1, "reward", "1 point added (reward)"),
        (-200, "adjustment", "200 points taken back (adjustment)"),
    ],
)
def test_a_grant_tells_its_points_and_reason_never_its_memo(
    points: int, reason: str, text: str
) -> None:
    """``500 points added (referral)``; a negative grant says points were taken back."""
    notification = render(make_grant(points=points, reason=reason), Rules())
    assert notification is not None
    assert (notification.kind, notification.text) == ("points_grant", text)
    assert notification.payment_id == NO_PAYMENT


def test_a_grant_notification_is_stored_and_sent_once(engine: Engine) -> None:
    """A grant's notification is stored (with no payment) and sent once across redeliveries."""
    sender = RecordingSender()
    handler = NotificationsHandler(engine, Rules(), sender)
    grant = make_grant()
    first = handler.handle_batch([grant])
    again = handler.handle_batch([grant])
    assert [r.outcome for r in first + again] == [Outcome.APPLIED, Outcome.DUPLICATE]
    assert [n.text for n in sender.sent] == ["500 points added (referral)"]


def test_each_event_is_sent_once_across_redeliveries(engine: Engine) -> None:
    """A redelivered event is a duplicate: stored once, sent once."""
    sender = RecordingSender()
    handler = NotificationsHandler(engine, Rules(), sender)
    event = make_event("authorization")
    first = handler.handle_batch([event, event])
    again = handler.handle_batch([event])
    assert [r.outcome for r in first] == [Outcome.APPLIED, Outcome.APPLIED]
    assert [r.outcome for r in again] == [Outcome.DUPLICATE]
    assert len(sender.sent) == 1
    with engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(notifications)) == 1


def test_events_without_a_message_are_acknowledged(engine: Engine) -> None:
    """A reversal is acknowledged (applied, nothing stored) so the queue moves on."""
    sender = RecordingSender()
    results = NotificationsHandler(engine, Rules(), sender).handle_batch(
        [make_event("authorization_reversal")]
    )
    assert [r.outcome for r in results] == [Outcome.APPLIED]
    assert sender.sent == []
