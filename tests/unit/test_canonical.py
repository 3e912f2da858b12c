"""The canonical form is the reference encoder's bytes, whoever writes them (orjson).

Every stored content hash was computed from ``json.dumps(dump, sort_keys=True,
separators=(",", ":"), ensure_ascii=False)`` with the instant written by ``strftime``; the
faster writers must give the same text for every event, or a redelivery would stop being
recognised as a duplicate.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from schemas.canonical import _canonical_text, canonical_json
from schemas.events import EVENT_ADAPTER, Brand, Event, EventType, GrantReason
from schemas.instants import canonical_instant

#: Any Unicode text a decoded body can hold (no lone surrogates: decoding refuses them).
TEXT = st.characters(exclude_categories=["Cs"])
IDENTIFIERS = st.text(TEXT, min_size=1, max_size=128)
OFFSETS = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
INSTANTS = st.datetimes(
    min_value=datetime(1900, 1, 2), max_value=datetime(2999, 12, 30), timezones=OFFSETS
)


def reference_json(event: Event) -> str:
    """The canonical form as first defined: the standard library and ``strftime``."""
    document = EVENT_ADAPTER.dump_python(event, mode="json")
    document["occurred_at"] = event.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@st.composite
def events(draw: st.DrawFn) -> Event:
    """Valid events of every type, with arbitrary text wherever the contract allows it."""
    event_type = draw(st.sampled_from(list(EventType)))
    fields: dict[str, Any] = {
        "schema_version": 1,
        "event_id": draw(IDENTIFIERS),
        "event_type": event_type.value,
        "occurred_at": draw(INSTANTS),
        "account_id": draw(IDENTIFIERS),
    }
    if event_type is EventType.POINTS_GRANT:
        fields |= {
            "points": draw(st.integers(1, 10_000_000)) * draw(st.sampled_from([1, -1])),
            "reason": draw(st.sampled_from(list(GrantReason))).value,
            "source": draw(st.from_regex(r"\A[a-z][a-z0-9-]{0,63}\Z")),
            "memo": draw(st.none() | st.text(TEXT, max_size=200)),
        }
    else:
        fields |= {
            "brand": draw(st.sampled_from(list(Brand))).value,
            "payment_id": draw(IDENTIFIERS),
            "amount": draw(st.integers(1, 10_000_000)),
            "currency": "JPY",
            "merchant": {
                "name": draw(st.text(TEXT, min_size=1, max_size=200)),
                "mcc": draw(st.from_regex(r"\A[0-9]{4}\Z")),
                "country": draw(st.from_regex(r"\A[A-Z]{2}\Z")),
            },
        }
        if event_type is EventType.AUTHORIZATION:
            fields["approved"] = draw(st.booleans())
        if event_type is EventType.CLEARING:
            fields["final"] = draw(st.booleans())
    return EVENT_ADAPTER.validate_python(fields)


@given(events())
def test_canonical_json_is_the_reference_encoders_text(event: Event) -> None:
    """For any valid event, the canonical form is byte for byte the reference encoder's."""
    assert canonical_json(event) == reference_json(event)


@given(st.dictionaries(st.text(TEXT), st.text(TEXT) | st.integers(-(2**63), 2**64 - 1)))
def test_orjson_escapes_and_sorts_as_the_reference_encoder(document: dict[str, Any]) -> None:
    """Control characters, quotes, backslashes, non-ASCII and key order come out the same."""
    outer = {**document, "nested": document}
    reference = json.dumps(outer, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert _canonical_text(outer) == reference


def test_what_orjson_refuses_is_written_by_the_reference_encoder() -> None:
    """Integers past 64 bits and lone surrogates (possible only from Python) still encode."""
    document = {"big": 2**70, "text": "\ud800"}
    assert _canonical_text(document) == json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def test_the_contract_has_no_float() -> None:
    """No field of any event is a JSON number but an integer: orjson spells floats its own way."""
    types: set[str] = set()

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("type"), str):
                types.add(node["type"])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(EVENT_ADAPTER.json_schema(mode="serialization"))
    assert "number" not in types
    assert types <= {"object", "string", "integer", "boolean", "null", "array"}


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=OFFSETS)
)
def test_canonical_instant_is_strftimes_text(instant: datetime) -> None:
    """``isoformat`` writes the canonical instant exactly as ``strftime`` did, any year."""
    utc = instant.astimezone(UTC)
    assert canonical_instant(instant) == utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
