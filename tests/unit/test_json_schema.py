"""The JSON Schema committed for other-language producers."""

from __future__ import annotations

from pathlib import Path

from schemas.instants import INSTANT_PATTERN
from schemas.jsonschema import payment_event_schema, render_schema
from tests.support.corpus import PAYMENT_TYPES

COMMITTED = Path(__file__).resolve().parents[2] / "schemas" / "payment-event.v1.schema.json"


def test_committed_schema_is_current() -> None:
    """The committed schema equals a fresh export (run `make schema` when this fails)."""
    assert COMMITTED.read_text(encoding="utf-8") == render_schema()


def test_schema_names_every_event_type() -> None:
    """Producers in other languages see every event type of DESIGN §3 as an alternative."""
    schema = payment_event_schema()
    definitions = schema["$defs"]
    names = [alternative["$ref"].rsplit("/", 1)[-1] for alternative in schema["oneOf"]]
    types = {definitions[name]["properties"]["event_type"]["const"] for name in names}
    assert types == {*PAYMENT_TYPES, "points_grant"}


def test_schema_pins_the_timestamp_with_the_consumers_pattern() -> None:
    """``occurred_at`` is a date-time string pinned by the very pattern the consumer matches."""
    occurred_at = payment_event_schema()["$defs"]["Clearing"]["properties"]["occurred_at"]
    assert occurred_at["format"] == "date-time"
    assert occurred_at["pattern"] == INSTANT_PATTERN


def test_wire_requires_the_fields_python_implies() -> None:
    """``schema_version`` and ``event_type`` have Python defaults but stay required on the wire."""
    for definition in ("Authorization", "AuthorizationReversal", "Clearing", "Refund"):
        required = payment_event_schema()["$defs"][definition]["required"]
        assert {"schema_version", "event_type", "currency"} <= set(required)
