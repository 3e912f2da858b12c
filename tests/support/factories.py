"""Builders of valid v1 events for tests (plain dicts, as they travel on the wire)."""

from __future__ import annotations

import json
from typing import Any

from schemas.envelope import parse_event
from schemas.events import PaymentEvent


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
    return parse_event(event_dict(event_type, **overrides))


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
