"""The compatibility gate: additive schema changes pass, breaking ones are named."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from schemas.compatibility import breaking_changes
from schemas.jsonschema import payment_event_schema

RELEASED = Path(__file__).resolve().parents[2] / "schemas" / "released"


def _schema() -> dict[str, Any]:
    return copy.deepcopy(payment_event_schema())


def _with_event_type(schema: dict[str, Any], name: str, definition: dict[str, Any]) -> None:
    schema["$defs"][name] = definition
    schema["oneOf"].append({"$ref": f"#/$defs/{name}"})


def test_this_codes_schema_is_compatible_with_the_released_one() -> None:
    """CI's gate: the exported schema refuses nothing the last released schema accepted."""
    released = json.loads((RELEASED / "payment-event.v1.schema.json").read_text("utf-8"))
    assert breaking_changes(released, payment_event_schema()) == []


def _without_event_type(schema: dict[str, Any], event_type: str) -> dict[str, Any]:
    """``schema`` with the union member whose ``event_type`` const is ``event_type`` removed."""
    narrowed = copy.deepcopy(schema)
    narrowed["oneOf"] = [
        ref
        for ref in narrowed["oneOf"]
        if narrowed["$defs"][ref["$ref"].rsplit("/", 1)[1]]["properties"]["event_type"]["const"]
        != event_type
    ]
    return narrowed


@pytest.mark.parametrize(
    "event_type", ["refund_reversal", "chargeback", "chargeback_reversal", "points_grant"]
)
def test_adding_a_union_member_is_additive(event_type: str) -> None:
    """Each event type of issue 13 (DESIGN §3), added to a schema without it, passes."""
    before = _without_event_type(payment_event_schema(), event_type)
    assert breaking_changes(before, payment_event_schema()) == []


@pytest.mark.parametrize("event_type", ["refund", "chargeback", "points_grant"])
def test_removing_a_union_member_is_breaking(event_type: str) -> None:
    """A producer of a removed event type would be refused: the gate names the type."""
    after = _without_event_type(payment_event_schema(), event_type)
    assert breaking_changes(payment_event_schema(), after) == [f"event type {event_type!r} removed"]


def test_a_new_optional_field_is_additive() -> None:
    """A property no one must send widens nothing a producer relied on."""
    schema = _schema()
    schema["$defs"]["Clearing"]["properties"]["installments"] = {"type": "integer"}
    assert breaking_changes(payment_event_schema(), schema) == []


def _refund_field(schema: dict[str, Any], field: str) -> dict[str, Any]:
    found: dict[str, Any] = schema["$defs"]["Refund"]["properties"][field]
    return found


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda s: s["$defs"]["Refund"]["properties"].pop("account_id"),
            "field 'account_id' removed",
        ),
        (lambda s: _refund_field(s, "amount").update(type="string"), "amount: type narrowed"),
        (lambda s: _refund_field(s, "amount").update(maximum=100), "amount: maximum lowered"),
        (lambda s: s["$defs"]["Refund"]["required"].append("memo"), "new required field 'memo'"),
        (lambda s: s["$defs"]["Brand"].update(enum=["visa"]), "enum value(s) removed ['quicpay']"),
        (lambda s: s["oneOf"].pop(), "event type 'points_grant' removed"),
        (lambda s: _refund_field(s, "event_id").update(pattern="^[a-z]+$"), "pattern changed"),
    ],
    ids=[
        "field removed",
        "type narrowed",
        "bound lowered",
        "new required",
        "enum value removed",
        "event type removed",
        "pattern added",
    ],
)
def test_breaking_changes_are_named(change: Any, expected: str) -> None:
    """Each kind of breaking change is reported with the field it concerns."""
    schema = _schema()
    change(schema)
    problems = breaking_changes(payment_event_schema(), schema)
    assert any(expected in problem for problem in problems), problems
