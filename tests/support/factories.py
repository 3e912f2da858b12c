"""Builders of valid v1 events for tests (plain dicts, as they travel on the wire)."""

from __future__ import annotations

import json
from typing import Any

from schemas.envelope import parse_event
from schemas.events import PaymentEvent, PointsGrant, payment_of


def event_dict(event_type: str = "authorization", **overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "schema_version": 1,
        "event_id": f"evt-{event_type}-1",
        "event_type": event_type,
        "occurred_at": "2026-11-21T10:00:00+09:00",
        "brand": "visa",
        "payment_id": "pay-1",
        "account_id": "acct-1",
        "amount": 1200,
        "currency": "JPY",
        "merchant": {"name": "LAWSON", "mcc": "5411", "country": "JP"},
    }
    if event_type == "authorization":
        document["approved"] = True
    if event_type == "clearing":
        document["final"] = False
    document.update(overrides)
    return document


def make_event(event_type: str = "authorization", **overrides: Any) -> PaymentEvent:
    return payment_event(event_dict(event_type, **overrides))


def payment_event(document: dict[str, Any]) -> PaymentEvent:
    """A wire dict of a payment event through the real decoder."""
    event = payment_of(parse_event(document))
    assert event is not None, f"{document.get('event_type')} is not a payment event type"
    return event


def grant_dict(**overrides: Any) -> dict[str, Any]:
    """A valid ``points_grant`` as it travels on the wire."""
    document: dict[str, Any] = {
        "schema_version": 1,
        "event_id": "evt-grant-1",
        "event_type": "points_grant",
        "occurred_at": "2026-11-21T10:00:00+09:00",
        "account_id": "acct-1",
        "points": 500,
        "reason": "referral",
        "source": "referral-service",
        "memo": "invited acc-123",
    }
    document.update(overrides)
    return document


def make_grant(**overrides: Any) -> PointsGrant:
    event = parse_event(grant_dict(**overrides))
    assert isinstance(event, PointsGrant)
    return event


def body(event_type: str = "authorization", **overrides: Any) -> str:
    return json.dumps(event_dict(event_type, **overrides))


def sns_envelope(message: str, **overrides: Any) -> str:
    envelope = {
        "Type": "Notification",
        "MessageId": "0b6f8d2e-0000-4000-8000-000000000000",
        "TopicArn": "arn:aws:sns:ap-northeast-1:123456789012:payment-events",
        "Message": message,
        "Timestamp": "2026-11-21T01:00:00.000Z",
    }
    envelope.update(overrides)
    return json.dumps(envelope)
