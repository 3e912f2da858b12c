"""Contract v1: what consumers accept and how precisely they refuse the rest."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas.canonical import canonical_json, content_hash
from schemas.envelope import decode_body
from schemas.errors import (
    InvalidBody,
    InvalidEnvelope,
    InvalidEvent,
    PermanentError,
    UnsupportedSchemaVersion,
)
from schemas.events import Authorization, AuthorizationReversal, Clearing, Refund
from tests.support.factories import body, event_dict, sns_envelope

VALID: list[tuple[str, dict[str, Any], type]] = [
    ("authorization", {}, Authorization),
    ("authorization", {"approved": False}, Authorization),
    ("authorization_reversal", {}, AuthorizationReversal),
    ("clearing", {}, Clearing),
    ("clearing", {"final": True}, Clearing),
    ("refund", {}, Refund),
    ("authorization", {"brand": "quicpay"}, Authorization),
    ("authorization", {"amount": 1}, Authorization),
    ("authorization", {"amount": 10_000_000}, Authorization),
    ("authorization", {"occurred_at": "2026-11-21T01:00:00Z"}, Authorization),
    ("authorization", {"occurred_at": "2026-11-21T01:00:00.123456+00:00"}, Authorization),
    ("authorization", {"event_id": "x" * 128}, Authorization),
    ("clearing", {"future_field": {"anything": [1, 2]}}, Clearing),
]


@pytest.mark.parametrize(("event_type", "overrides", "model"), VALID)
def test_valid_events_decode_to_their_type(
    event_type: str, overrides: dict[str, Any], model: type
) -> None:
    """Every event type of the contract, with its boundary values, decodes to its model."""
    assert isinstance(decode_body(body(event_type, **overrides)), model)


def test_defaults_of_optional_flags() -> None:
    """``approved`` defaults to true and ``final`` to false when omitted."""
    auth = event_dict("authorization")
    del auth["approved"]
    clearing = event_dict("clearing")
    del clearing["final"]
    assert decode_body(json.dumps(auth)).approved is True  # type: ignore[union-attr]
    assert decode_body(json.dumps(clearing)).final is False  # type: ignore[union-attr]


@pytest.mark.parametrize("spelling", ["1200", "1200.0", "1.2e3", "12000E-1"])
def test_integral_numbers_are_integers(spelling: str) -> None:
    """An integer field takes any integral JSON number, and the canonical form writes 1200."""
    event = decode_body(body().replace('"amount": 1200', f'"amount": {spelling}'))
    assert event.amount == 1200  # type: ignore[union-attr]
    assert '"amount":1200,' in canonical_json(event)


def test_an_event_with_an_unknown_type_field_is_not_an_envelope() -> None:
    """Only a document without ``schema_version`` is taken for an SNS envelope."""
    assert isinstance(decode_body(body(Type="Notification")), Authorization)


def test_sns_envelope_and_raw_delivery_decode_to_the_same_event() -> None:
    """Consumers accept raw delivery and the SNS Notification envelope alike."""
    raw = body("clearing")
    assert decode_body(sns_envelope(raw)) == decode_body(raw)


def test_unknown_fields_are_dropped() -> None:
    """Forward compatibility: unknown fields are accepted but never kept."""
    event = decode_body(body("refund", loyalty_hint="secret"))
    assert "loyalty_hint" not in canonical_json(event)


def test_content_hash_ignores_key_order_and_whitespace() -> None:
    """The same event with other key order or spacing has the same content hash."""
    document = event_dict("clearing", final=True)
    compact = json.dumps(document, separators=(",", ":"))
    shuffled = json.dumps(dict(reversed(list(document.items()))), indent=4)
    assert content_hash(decode_body(compact)) == content_hash(decode_body(shuffled))


@pytest.mark.parametrize(
    "spelling",
    [
        "2026-11-21T01:00:00Z",
        "2026-11-21T01:00:00.000Z",
        "2026-11-21T01:00:00.000000000z",
        "2026-11-20T16:00:00-09:00",
        "2026-11-21t10:00:00.0+09:00",
    ],
)
def test_content_hash_names_the_instant_not_its_spelling(spelling: str) -> None:
    """Offsets, letter case and trailing zero fractions do not change the content hash."""
    reference = content_hash(decode_body(body(occurred_at="2026-11-21T10:00:00+09:00")))
    assert content_hash(decode_body(body(occurred_at=spelling))) == reference


def test_canonical_instant_is_utc_with_microseconds() -> None:
    """The canonical body writes the instant in UTC with six fraction digits."""
    event = decode_body(body(occurred_at="2026-11-21T10:00:00.5+09:00"))
    assert '"occurred_at":"2026-11-21T01:00:00.500000Z"' in canonical_json(event)


def test_content_hash_keeps_microseconds() -> None:
    """Two instants one microsecond apart are different contents."""
    first = decode_body(body(occurred_at="2026-11-21T01:00:00.000001Z"))
    second = decode_body(body(occurred_at="2026-11-21T01:00:00.000002Z"))
    assert content_hash(first) != content_hash(second)


def test_content_hash_changes_with_content() -> None:
    """Any change of a contract field changes the hash."""
    assert content_hash(decode_body(body(amount=1200))) != content_hash(
        decode_body(body(amount=1201))
    )


def test_content_hash_counts_defaults_as_content() -> None:
    """An omitted ``final`` and an explicit ``final: false`` are the same content."""
    explicit = event_dict("clearing", final=False)
    omitted = event_dict("clearing")
    del omitted["final"]
    assert content_hash(decode_body(json.dumps(explicit))) == content_hash(
        decode_body(json.dumps(omitted))
    )


def _without(field: str, event_type: str = "authorization") -> str:
    document = event_dict(event_type)
    del document[field]
    return json.dumps(document)


def _merchant(**overrides: Any) -> str:
    merchant = {"name": "LAWSON", "mcc": "5411", "country": "JP", **overrides}
    return body(merchant=merchant)


INVALID: list[tuple[str, str | bytes, type[PermanentError], str]] = [
    ("not json", "{not json", InvalidBody, "not JSON"),
    ("empty body", "", InvalidBody, "not JSON"),
    ("json array", "[1, 2]", InvalidBody, "JSON object"),
    ("json string", '"event"', InvalidBody, "JSON object"),
    ("invalid utf-8", b'{"a": "\xff"}', InvalidBody, "UTF-8"),
    ("over 256 KiB", body(payment_id="p" * (300 * 1024)), InvalidBody, "limit"),
    ("deep nesting", "[" * 100_000 + "]" * 100_000, InvalidBody, "nested"),
    ("missing schema_version", _without("schema_version"), UnsupportedSchemaVersion, "None"),
    ("schema_version 2", body(schema_version=2), UnsupportedSchemaVersion, "got 2"),
    ("schema_version string", body(schema_version="1"), UnsupportedSchemaVersion, "'1'"),
    ("schema_version true", body(schema_version=True), UnsupportedSchemaVersion, "True"),
    ("unknown event_type", body(event_type="charge_back"), InvalidEvent, "event_type"),
    ("missing event_type", _without("event_type"), InvalidEvent, "event_type"),
    ("missing event_id", _without("event_id"), InvalidEvent, "event_id"),
    ("empty event_id", body(event_id=""), InvalidEvent, "event_id"),
    ("event_id 129 chars", body(event_id="x" * 129), InvalidEvent, "event_id"),
    ("event_id number", body(event_id=42), InvalidEvent, "event_id"),
    ("huge payment_id", body(payment_id="p" * 10_000), InvalidEvent, "payment_id"),
    ("missing account_id", _without("account_id"), InvalidEvent, "account_id"),
    ("amount zero", body(amount=0), InvalidEvent, "amount"),
    ("amount negative", body(amount=-5), InvalidEvent, "amount"),
    ("amount over max", body(amount=10_000_001), InvalidEvent, "amount"),
    ("amount fraction", body(amount=1200.5), InvalidEvent, "amount"),
    (
        "amount out of double range",
        body().replace('"amount": 1200', '"amount": 1e400'),
        InvalidEvent,
        "amount",
    ),
    ("amount string", body(amount="1200"), InvalidEvent, "amount"),
    ("amount bool", body(amount=True), InvalidEvent, "amount"),
    ("currency USD", body(currency="USD"), InvalidEvent, "currency"),
    ("currency lower", body(currency="jpy"), InvalidEvent, "currency"),
    ("brand unknown", body(brand="mastercard"), InvalidEvent, "brand"),
    ("brand upper", body(brand="VISA"), InvalidEvent, "brand"),
    ("naive timestamp", body(occurred_at="2026-11-21T10:00:00"), InvalidEvent, "occurred_at"),
    ("date only", body(occurred_at="2026-11-21"), InvalidEvent, "occurred_at"),
    ("epoch timestamp", body(occurred_at=1795300000), InvalidEvent, "occurred_at"),
    ("impossible date", body(occurred_at="2026-02-30T10:00:00Z"), InvalidEvent, "occurred_at"),
    ("space separator", body(occurred_at="2026-11-21 10:00:00Z"), InvalidEvent, "occurred_at"),
    ("offset no colon", body(occurred_at="2026-11-21T10:00:00+0900"), InvalidEvent, "occurred_at"),
    ("leap second", body(occurred_at="2026-12-31T23:59:60Z"), InvalidEvent, "occurred_at"),
    (
        "sub-microsecond",
        body(occurred_at="2026-11-21T10:00:00.1234567Z"),
        InvalidEvent,
        "occurred_at",
    ),
    (
        "10 fraction digits",
        body(occurred_at="2026-11-21T10:00:00.0000000000Z"),
        InvalidEvent,
        "occurred_at",
    ),
    ("go zero time", body(occurred_at="0001-01-01T00:00:00Z"), InvalidEvent, "occurred_at"),
    ("fullwidth digits", body(occurred_at="２０２６-11-21T10:00:00Z"), InvalidEvent, "occurred_at"),
    ("trailing newline", body(occurred_at="2026-11-21T10:00:00Z\n"), InvalidEvent, "occurred_at"),
    ("mcc trailing newline", _merchant(mcc="5411\n"), InvalidEvent, "merchant.mcc"),
    ("mcc 3 digits", _merchant(mcc="541"), InvalidEvent, "merchant.mcc"),
    ("mcc letters", _merchant(mcc="54a1"), InvalidEvent, "merchant.mcc"),
    ("mcc number", _merchant(mcc=5411), InvalidEvent, "merchant.mcc"),
    ("country lower", _merchant(country="jp"), InvalidEvent, "merchant.country"),
    ("merchant name empty", _merchant(name=""), InvalidEvent, "merchant.name"),
    ("merchant missing", _without("merchant"), InvalidEvent, "merchant"),
    ("approved string", body(approved="yes"), InvalidEvent, "approved"),
    ("final number", body("clearing", final=1), InvalidEvent, "final"),
    (
        "envelope not notification",
        sns_envelope(body(), Type="SubscriptionConfirmation"),
        InvalidEnvelope,
        "Notification",
    ),
    ("envelope message object", sns_envelope(body(), Message={"a": 1}), InvalidEnvelope, "Message"),
    ("envelope message not json", sns_envelope("nope"), InvalidBody, "SNS Message"),
    ("envelope without message", json.dumps({"Type": "Notification"}), InvalidEnvelope, "Message"),
    ("duplicate key", body()[:-1] + ', "amount": 1}', InvalidBody, "repeats the key 'amount'"),
    ("nested duplicate key", body(x={"a": 1})[:-2] + ', "a": 2}}', InvalidBody, "repeats"),
    ("NaN in unknown field", body()[:-1] + ', "extra": NaN}', InvalidBody, "NaN"),
    ("Infinity", body()[:-1] + ', "extra": [-Infinity]}', InvalidBody, "-Infinity"),
    ("lone surrogate", body()[:-1] + ', "extra": "\\ud800"}', InvalidBody, "surrogate"),
]


@pytest.mark.parametrize(
    ("raw", "error", "fragment"),
    [pytest.param(raw, error, fragment, id=name) for name, raw, error, fragment in INVALID],
)
def test_invalid_bodies_are_rejected_precisely(
    raw: str | bytes, error: type[PermanentError], fragment: str
) -> None:
    """Each way of breaking the contract raises its own permanent error naming the problem."""
    with pytest.raises(error) as caught:
        decode_body(raw)
    assert fragment in str(caught.value)


def test_error_messages_do_not_echo_values() -> None:
    """Rejections name fields, never their (possibly personal) values."""
    with pytest.raises(InvalidEvent) as caught:
        decode_body(body(account_id="", amount="card-4111111111111111"))
    assert "4111111111111111" not in str(caught.value)
