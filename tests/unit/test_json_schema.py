"""The JSON Schema committed for other-language producers."""

from __future__ import annotations

from pathlib import Path

from schemas.jsonschema import payment_event_schema, render_schema

COMMITTED = Path(__file__).resolve().parents[2] / "schemas" / "payment-event.v1.schema.json"


def test_committed_schema_is_current() -> None:
    """The committed schema equals a fresh export (run `make schema` when this fails)."""
    assert COMMITTED.read_text(encoding="utf-8") == render_schema()


def test_schema_names_every_event_type() -> None:
    """Producers in other languages see all four event types as alternatives."""
    schema = payment_event_schema()
    mapping = schema["discriminator"]["mapping"]
    assert set(mapping) == {"authorization", "authorization_reversal", "clearing", "refund"}


def test_schema_requires_an_offset_timestamp_format() -> None:
    """``occurred_at`` is declared as a date-time string."""
    definitions = payment_event_schema()["$defs"]
    assert definitions["Clearing"]["properties"]["occurred_at"]["format"] == "date-time"
