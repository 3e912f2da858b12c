"""What must happen to a message body, judged from DESIGN §3 alone (never from ``schemas/``).

The hostile-input tests need an expected outcome for bodies nobody labelled by hand (the
random mutations). Asking the consumer's own decoder would only prove "no crash"; this
oracle reads the body with ``json.loads`` and applies the contract's rules as DESIGN §3
states them: body and SNS envelope, ``schema_version`` first (it decides which schema
applies), then every field of a v1 payment event. ``test_bad_input.py`` checks the oracle
against every hand-labelled body before it is trusted with the mutations.

Rules in flux: DESIGN §3 was revised and helper ``contract`` (#15) is implementing it. Each
revised rule has a switch below holding what the consumer on main does today; flip it when
the change lands on main, and every expectation that depends on it (the oracle's and the
hand labels in ``hostile.py``) follows. A verdict names the switch it depended on.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

#: DESIGN §3 "an integer field accepts 1200, 1200.0 and 1.2e3 alike". Main refuses an
#: integral float in ``amount`` (invalid_event); ``schema_version`` 1.0 it already accepts.
INTEGRAL_FLOATS_ARE_INTEGERS: Final = False
#: Revised: an object with a repeated key is not a body (invalid_body). Main: the last wins.
DUPLICATE_KEYS_REJECTED: Final = False
#: Revised: ``NaN``/``Infinity`` (not JSON) make an invalid body. Main reads them as floats.
NON_FINITE_REJECTED: Final = False

APPLIED: Final = "applied"
INVALID_BODY: Final = "invalid_body"
INVALID_ENVELOPE: Final = "invalid_envelope"
INVALID_EVENT: Final = "invalid_event"
BAD_VERSION: Final = "unsupported_schema_version"
#: SQS's limit on a message, which the consumer enforces on the body it is handed.
MAX_BODY_BYTES: Final = 256 * 1024
#: The v1 types the consumer on main knows. DESIGN §3 lists refund_reversal, chargeback,
#: chargeback_reversal and points_grant too: #13 phase 2, not implemented yet.
V1_TYPES: Final = frozenset({"authorization", "authorization_reversal", "clearing", "refund"})
LATER_TYPES: Final = frozenset(
    {"refund_reversal", "chargeback", "chargeback_reversal", "points_grant"}
)
BRANDS: Final = frozenset({"visa", "quicpay"})
#: RFC 3339 date-time (§5.6; "T"/"Z" in either case), ASCII digits only.
_RFC3339: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


class Unjudged(Exception):
    """DESIGN does not settle this body: label it by hand in ``hostile.py``."""


@dataclass(frozen=True)
class Verdict:
    outcome: str
    #: The event as the contract reads it (contract fields, defaults filled) when applied.
    event: dict[str, Any] | None = None
    #: The rule-in-flux switch this verdict depends on, if any.
    in_flux: str | None = None


class _Rejected(Exception):
    def __init__(self, outcome: str) -> None:
        self.outcome = outcome


class _Reading:
    """One body being judged: remembers which rules in flux it touched."""

    def __init__(self) -> None:
        self.in_flux: str | None = None

    def flux(self, switch: str) -> None:
        self.in_flux = switch

    def parse(self, text: str) -> dict[str, Any]:
        if len(text.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
            raise _Rejected(INVALID_BODY)
        try:
            document = json.loads(
                text, object_pairs_hook=self._object, parse_constant=self._constant
            )
        except (ValueError, RecursionError):  # not JSON, or nested / long beyond reading
            raise _Rejected(INVALID_BODY) from None
        if not isinstance(document, dict):
            raise _Rejected(INVALID_BODY)
        return document

    def _object(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({key for key, _ in pairs}) < len(pairs):
            self.flux("DUPLICATE_KEYS_REJECTED")
            if DUPLICATE_KEYS_REJECTED:
                raise _Rejected(INVALID_BODY)
        return dict(pairs)

    def _constant(self, literal: str) -> float:
        self.flux("NON_FINITE_REJECTED")
        if NON_FINITE_REJECTED:
            raise _Rejected(INVALID_BODY)
        return float(literal)

    def unwrap(self, document: dict[str, Any]) -> dict[str, Any]:
        """Contract keys are snake_case: a "Type" key means an SNS envelope (one level)."""
        if "Type" not in document:
            return document
        message = document.get("Message")
        if document["Type"] != "Notification" or not isinstance(message, str):
            raise _Rejected(INVALID_ENVELOPE)
        return self.parse(message)

    def event(self, document: dict[str, Any]) -> dict[str, Any]:
        version = document.get("schema_version")
        if isinstance(version, bool) or version != 1:  # 1.0 is 1 (accepted on main too)
            raise _Rejected(BAD_VERSION)
        if _has_lone_surrogate(document):  # not Unicode text, wherever it is
            raise _Rejected(INVALID_EVENT)
        kind = document.get("event_type")
        if kind in LATER_TYPES:
            raise Unjudged(f"event_type {kind!r} is not implemented on main yet")
        if kind not in V1_TYPES:
            raise _Rejected(INVALID_EVENT)
        event = {
            "schema_version": 1,
            "event_type": kind,
            "event_id": _identifier(document.get("event_id")),
            "payment_id": _identifier(document.get("payment_id")),
            "account_id": _identifier(document.get("account_id")),
            "occurred_at": _instant(document.get("occurred_at")),
            "brand": _member(document.get("brand"), BRANDS),
            "currency": _member(document.get("currency"), {"JPY"}),
            "amount": self._amount(document.get("amount")),
            "merchant": _merchant(document.get("merchant")),
        }
        if kind == "authorization":
            event["approved"] = _boolean(document.get("approved", True))
        if kind == "clearing":
            event["final"] = _boolean(document.get("final", False))
        return event

    def _amount(self, value: Any) -> int:
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            self.flux("INTEGRAL_FLOATS_ARE_INTEGERS")
            if INTEGRAL_FLOATS_ARE_INTEGERS:
                value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Rejected(INVALID_EVENT)
        if not 1 <= value <= 10_000_000:
            raise _Rejected(INVALID_EVENT)
        return value


def judge(body: str) -> Verdict:
    """The outcome DESIGN §3 gives this body (``applied`` or the DLQ reason)."""
    reading = _Reading()
    try:
        event = reading.event(reading.unwrap(reading.parse(body)))
    except _Rejected as rejected:
        return Verdict(rejected.outcome, None, reading.in_flux)
    return Verdict(APPLIED, event, reading.in_flux)


def _identifier(value: Any) -> str:
    """1-128 characters, counted in code points as JSON Schema does."""
    if not isinstance(value, str) or not 1 <= len(value) <= 128:
        raise _Rejected(INVALID_EVENT)
    return value


def _instant(value: Any) -> str:
    """RFC 3339 with an offset, naming a real moment that UTC can hold (years 1-9999)."""
    match = _RFC3339.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise _Rejected(INVALID_EVENT)
    if len(match.group(1) or "") > 10:  # "." and more than 9 digits: DESIGN does not say
        raise Unjudged(f"occurred_at with a fraction of {len(match.group(1)) - 1} digits")
    try:
        datetime.fromisoformat(match.group(0).upper()).astimezone(UTC)
    except (ValueError, OverflowError):
        raise _Rejected(INVALID_EVENT) from None
    return match.group(0)


def _member(value: Any, allowed: set[str] | frozenset[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise _Rejected(INVALID_EVENT)
    return value


def _merchant(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _Rejected(INVALID_EVENT)
    name, mcc, country = value.get("name"), value.get("mcc"), value.get("country")
    if not isinstance(name, str) or not 1 <= len(name) <= 200:
        raise _Rejected(INVALID_EVENT)
    if not isinstance(mcc, str) or not re.fullmatch("[0-9]{4}", mcc):
        raise _Rejected(INVALID_EVENT)
    if not isinstance(country, str) or not re.fullmatch("[A-Z]{2}", country):
        raise _Rejected(INVALID_EVENT)
    return {"name": name, "mcc": mcc, "country": country}


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Rejected(INVALID_EVENT)
    return value


def _has_lone_surrogate(document: Any) -> bool:
    """Any key or string value, however deep (iteratively: bodies nest 100,000 deep)."""
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if any("\ud800" <= char <= "\udfff" for char in value):
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False
