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


def test_the_planned_event_types_of_issue_13_are_additive() -> None:
    """refund_reversal, chargeback, chargeback_reversal and points_grant (DESIGN §3) pass."""
    schema = _schema()
    for name, event_type in (
        ("RefundReversal", "refund_reversal"),
        ("Chargeback", "chargeback"),
        ("ChargebackReversal", "chargeback_reversal"),
    ):
        definition = copy.deepcopy(schema["$defs"]["Refund"])
        definition["properties"]["event_type"]["const"] = event_type
        _with_event_type(schema, name, definition)
    grant = copy.deepcopy(schema["$defs"]["Refund"])
    for field in ("brand", "payment_id", "amount", "currency", "merchant"):
        del grant["properties"][field]
        grant["required"].remove(field)
    grant["properties"]["event_type"]["const"] = "points_grant"
    grant["properties"]["points"] = {"type": "integer", "minimum": -10_000_000}
    grant["properties"]["reason"] = {"enum": ["reward", "referral", "campaign", "adjustment"]}
    grant["required"] += ["points", "reason"]
    _with_event_type(schema, "PointsGrant", grant)
    assert breaking_changes(payment_event_schema(), schema) == []


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
        (lambda s: s["oneOf"].pop(), "event type 'refund' removed"),
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
