"""A generated corpus of edge cases for the contract's three judges (DESIGN §3).

Every case is a JSON *text*, so that spellings the judges might read differently
(``1.2e3``, ``"5411\\n"``, astral characters, ``\\u`` escapes) reach each of them verbatim.
Value cases are judged by python-jsonschema, ajv and the consumer and must get the same
verdict from all three; text cases break I-JSON (duplicate keys, ``NaN``, lone surrogates),
which no JSON Schema can see, and must be ``invalid_body`` for the consumer.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.support.factories import event_dict, grant_dict

#: DESIGN §3's payment event types (written out, not read from ``schemas``).
PAYMENT_TYPES = (
    "authorization",
    "authorization_reversal",
    "clearing",
    "refund",
    "refund_reversal",
    "chargeback",
    "chargeback_reversal",
)
_DELETE = object()


@dataclass(frozen=True)
class Case:
    name: str
    text: str


@dataclass(frozen=True)
class Raw:
    """A value written into the case verbatim (a number spelling, an escape, …)."""

    json_text: str


def raw(json_text: str) -> Raw:
    return Raw(json_text)


def render(document: Any) -> str:
    tokens: list[str] = []

    def placeholder(value: object) -> str:
        assert isinstance(value, Raw)
        tokens.append(value.json_text)
        return f"@@raw{len(tokens) - 1}@@"

    text = json.dumps(document, ensure_ascii=False, default=placeholder)
    for index, token in enumerate(tokens):
        text = text.replace(f'"@@raw{index}@@"', token)
    return text


def with_field(event_type: str, path: tuple[str, ...], value: Any) -> str:
    document = grant_dict() if event_type == "points_grant" else event_dict(event_type)
    target = document
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value
    return render(document)


NUMBERS = [
    "1200",
    "1200.0",
    "1.2e3",
    "1.2E+3",
    "12000e-1",
    "1200.000000000000001",
    "1200.5",
    "0",
    "-0",
    "0.0",
    "1",
    "1.0",
    "10000000",
    "1e7",
    "10000000.0",
    "10000001",
    "-1",
    "1e400",
    "-1e400",
    "1e-400",
    "12000000000000000000000",
    "true",
    "false",
    "null",
    '"1200"',
    "[]",
    "{}",
    "9007199254740993",
]
SCHEMA_VERSIONS = ["1", "1.0", "1e0", "10e-1", "0", "2", '"1"', "true", "null", "1.5"]

INSTANTS = [
    "2026-11-21T10:00:00+09:00",
    "2026-11-21T01:00:00Z",
    "2026-11-21T01:00:00z",
    "2026-11-21t01:00:00Z",
    "2026-11-21 01:00:00Z",
    "2026-11-21T10:00:00+0900",
    "2026-11-21T10:00:00+09",
    "2026-11-21T10:00:00",
    "2026-11-21",
    "10:00:00Z",
    "2026-12-31T23:59:60Z",
    "2026-12-31T23:59:59Z",
    "2026-11-21T24:00:00Z",
    "2026-11-21T10:60:00Z",
    "2026-11-21T10:00:00.1Z",
    "2026-11-21T10:00:00.123456Z",
    "2026-11-21T10:00:00.1234567Z",
    "2026-11-21T10:00:00.123456000Z",
    "2026-11-21T10:00:00.1234560000Z",
    "2026-11-21T10:00:00.0000000000Z",
    "2026-11-21T10:00:00.Z",
    "2026-11-21T10:00:00,5Z",
    "2026-02-29T00:00:00Z",
    "2024-02-29T00:00:00Z",
    "2000-02-29T00:00:00Z",
    "2100-02-29T00:00:00Z",
    "2026-02-30T00:00:00Z",
    "2026-04-31T00:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-00-10T00:00:00Z",
    "2026-11-00T00:00:00Z",
    "0001-01-01T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "1899-12-31T23:59:59Z",
    "1900-01-01T00:00:00Z",
    "2999-12-31T23:59:59-23:59",
    "3000-01-01T00:00:00Z",
    "9999-12-31T23:59:59-01:00",
    "+2026-11-21T10:00:00Z",
    "20261121T100000Z",
    "2026-11-21T10:00:00-00:00",
    "2026-11-21T10:00:00+24:00",
    "2026-11-21T10:00:00+23:59",
    "2026-11-21T10:00:00+09:60",
    "2026-11-21T10:00:00 +09:00",
    " 2026-11-21T10:00:00Z",
    "2026-11-21T10:00:00Z ",
    "2026-11-21T10:00:00Z\n",
    "\n2026-11-21T10:00:00Z",
    "2026-11-21T10:00:00Z\r",
    "２０２６-11-21T10:00:00Z",
    "2026-11-21T10:00:00.١Z",
    "2026-11-21T10:00Z",
    "2026-11-21T1:00:00Z",
    "2026-1-21T10:00:00Z",
    "2026-11-21T10:00:00UTC",
    "2026-11-21T10:00:00GMT+9",
    "1795300000",
    "",
]
MCCS = ["5411", "5411\n", "\n5411", "541", "54111", "５４１１", "٥٤١١", " 5411", "54 1", "0000"]
COUNTRIES = ["JP", "jp", "JP\n", "ＪＰ", "JPN", "J", "", "Jp"]
BRANDS = ["visa", "quicpay", "VISA", "Visa", "mastercard", "visa\n", ""]
BOOLEANS = ["true", "false", "1", "0", '"true"', "null", "[]"]


#: Strings by length in code points: BMP, astral (two UTF-16 units each), combining marks.
def _strings(limit: int) -> list[Any]:
    return [
        "",
        "a",
        "x" * limit,
        "x" * (limit + 1),
        "😀" * limit,
        "😀" * (limit + 1),
        "e\u0301" * (limit // 2),
        "é" * limit,
        "\u0000",
        "line\nbreak",
        "\u3000",
        "x" * (limit - 1) + "😀",
        raw('"\\ud83d\\ude00"') if limit else "",
    ]


def value_cases(fuzz: int = 1500, seed: int = 20261121) -> list[Case]:
    return list(_value_cases(fuzz, seed))


def _value_cases(fuzz: int, seed: int) -> Iterator[Case]:
    base_fields = [k for k in event_dict("authorization") if k != "approved"]
    for event_type in PAYMENT_TYPES:
        yield Case(f"{event_type}: valid", render(event_dict(event_type)))
        for field in base_fields:
            yield Case(f"{event_type}: without {field}", with_field(event_type, (field,), _DELETE))
            yield Case(f"{event_type}: {field} null", with_field(event_type, (field,), None))
        for key in ("name", "mcc", "country"):
            yield Case(
                f"{event_type}: merchant without {key}",
                with_field(event_type, ("merchant", key), _DELETE),
            )
    for number in NUMBERS:
        yield Case(f"amount {number}", with_field("clearing", ("amount",), raw(number)))
    for version in SCHEMA_VERSIONS:
        yield Case(
            f"schema_version {version}", with_field("refund", ("schema_version",), raw(version))
        )
    for instant in INSTANTS:
        yield Case(f"occurred_at {instant!r}", with_field("clearing", ("occurred_at",), instant))
    for mcc in MCCS:
        yield Case(f"mcc {mcc!r}", with_field("authorization", ("merchant", "mcc"), mcc))
    for country in COUNTRIES:
        yield Case(f"country {country!r}", with_field("refund", ("merchant", "country"), country))
    for brand in BRANDS:
        yield Case(f"brand {brand!r}", with_field("authorization", ("brand",), brand))
    for currency in ("JPY", "jpy", "USD", "JPY\n", 1):
        yield Case(f"currency {currency!r}", with_field("refund", ("currency",), currency))
    for flag in BOOLEANS:
        yield Case(f"approved {flag}", with_field("authorization", ("approved",), raw(flag)))
        yield Case(f"final {flag}", with_field("clearing", ("final",), raw(flag)))
    yield Case(
        "authorization without approved", with_field("authorization", ("approved",), _DELETE)
    )
    yield Case("clearing without final", with_field("clearing", ("final",), _DELETE))
    yield from _type_cases()
    yield from _grant_cases()
    yield from _string_cases()
    yield from _shape_cases()
    yield from _fuzzed_instants(fuzz, random.Random(seed))


def _type_cases() -> Iterator[Case]:
    for value in ("chargeback", "points_grant", "AUTHORIZATION", "authorization ", "", 1):
        yield Case(f"event_type {value!r}", with_field("authorization", ("event_type",), value))
    # A field of another type: the union must not let one type's fields leak into another.
    yield Case("refund with final", with_field("refund", ("final",), True))
    yield Case(
        "reversal with approved null", with_field("authorization_reversal", ("approved",), None)
    )


GRANT_POINTS = [
    "500",
    "-500",
    "1",
    "-1",
    "0",
    "-0",
    "0.0",
    "-0.0",
    "0e5",
    "5e2",
    "-5e2",
    "500.0",
    "500.5",
    "10000000",
    "-10000000",
    "1e7",
    "-1e7",
    "10000001",
    "-10000001",
    "1e400",
    "true",
    "null",
    '"500"',
]
SOURCES = [
    "referral-service",
    "ops",
    "a",
    "a" * 64,
    "a" * 65,
    "a-",
    "a1-2",
    "1abc",
    "-abc",
    "Referral",
    "referral_service",
    "referral service",
    "referral\n",
    "a" * 63 + "\n",
    "\nreferral",
    "rèferral",
    "ｒeferral",
    "",
    None,
    5,
]
REASONS = ["reward", "referral", "campaign", "adjustment", "Reward", "bonus", "", None, 1]


def _grant_cases() -> Iterator[Case]:
    """points_grant (DESIGN §3): points ±10,000,000 and never 0 however spelled, the source
    pattern (a final newline included), memo length in code points."""
    fields = ["event_id", "occurred_at", "account_id", "points", "reason", "source"]
    yield Case("points_grant: valid", render(grant_dict()))
    for field in fields:
        yield Case(f"points_grant: without {field}", with_field("points_grant", (field,), _DELETE))
        yield Case(f"points_grant: {field} null", with_field("points_grant", (field,), None))
    yield Case("points_grant: without memo", with_field("points_grant", ("memo",), _DELETE))
    yield Case("points_grant: memo null", with_field("points_grant", ("memo",), None))
    yield Case("points_grant: memo number", with_field("points_grant", ("memo",), 7))
    for number in GRANT_POINTS:
        yield Case(f"points {number}", with_field("points_grant", ("points",), raw(number)))
    for index, source in enumerate(SOURCES):
        yield Case(f"source #{index} {source!r}", with_field("points_grant", ("source",), source))
    for reason in REASONS:
        yield Case(f"reason {reason!r}", with_field("points_grant", ("reason",), reason))
    for index, value in enumerate(_strings(200)):
        yield Case(f"memo #{index}", with_field("points_grant", ("memo",), value))
    # The union keeps the families apart: payment fields do not make a grant, nor the reverse.
    grant_as_payment = render({**grant_dict(), "event_type": "chargeback"})
    yield Case("grant fields as a chargeback", grant_as_payment)
    payment_as_grant = render({**event_dict("refund"), "event_type": "points_grant"})
    yield Case("payment fields as a points_grant", payment_as_grant)
    for key in ("brand", "payment_id", "merchant", "amount"):
        value = event_dict("refund")[key]
        yield Case(f"points_grant with {key}", with_field("points_grant", (key,), value))


def _string_cases() -> Iterator[Case]:
    for field, limit in (("event_id", 128), ("payment_id", 128), ("account_id", 128)):
        for index, value in enumerate(_strings(limit)):
            yield Case(f"{field} #{index}", with_field("clearing", (field,), value))
        yield Case(f"{field} number", with_field("clearing", (field,), 42))
    for index, value in enumerate(_strings(200)):
        yield Case(f"merchant.name #{index}", with_field("refund", ("merchant", "name"), value))


def _shape_cases() -> Iterator[Case]:
    unknown: list[tuple[str, Any]] = [
        ("Type", "Notification"),
        ("Message", "hello"),
        ("TopicArn", "arn:aws:sns:x"),
        ("future", {"nested": [1, None, "x"]}),
        ("amount_jpy", 1200.5),
        ("", ""),
        ("schema_version ", 2),
        ("Amount", "x"),
        ("memo", raw("1e400")),
    ]
    for key, value in unknown:
        yield Case(f"unknown field {key!r}", with_field("authorization", (key,), value))
        yield Case(
            f"unknown merchant field {key!r}", with_field("clearing", ("merchant", key), value)
        )
    for text in ("[]", '"event"', "1", "null", "true", "{}"):
        yield Case(f"document {text}", text)
    for merchant in ('"LAWSON"', "[]", "{}", "null"):
        yield Case(f"merchant {merchant}", with_field("refund", ("merchant",), raw(merchant)))


_FUZZ_ALPHABET = "0123456789TtZz+-:. \n１٠"


def _fuzzed_instants(count: int, rng: random.Random) -> Iterator[Case]:
    """Random one- and two-character edits of valid instants: near misses of the pattern."""
    seeds = [i for i in INSTANTS if i.startswith(("2026-11-21T", "2024-02-29", "1900"))]
    for index in range(count):
        text = list(rng.choice(seeds))
        for _ in range(rng.choice((1, 1, 2))):
            position = rng.randrange(len(text) + 1)
            edit = rng.choice(("insert", "delete", "replace"))
            char = rng.choice(_FUZZ_ALPHABET)
            if edit == "insert":
                text.insert(position, char)
            elif position < len(text):
                if edit == "delete":
                    del text[position]
                else:
                    text[position] = char
        instant = "".join(text)
        yield Case(
            f"fuzzed instant #{index} {instant!r}",
            with_field("clearing", ("occurred_at",), instant),
        )


def text_cases() -> list[Case]:
    """Not I-JSON: every one is ``invalid_body`` for the consumer, whatever a schema says."""
    valid = render(event_dict("authorization"))
    head = valid[:-1]
    return [
        Case("duplicate top-level key", head + ', "amount": 1}'),
        Case("duplicate key, same value", head + ', "amount": 1200}'),
        Case(
            "duplicate merchant key", valid.replace('"mcc": "5411"', '"mcc": "5411", "mcc": "0000"')
        ),
        Case("duplicate key in unknown field", head + ', "x": {"a": 1, "a": 2}}'),
        Case("NaN in unknown field", head + ', "x": NaN}'),
        Case("Infinity in unknown field", head + ', "x": Infinity}'),
        Case("-Infinity as amount", valid.replace('"amount": 1200', '"amount": -Infinity')),
        Case("NaN as amount", valid.replace('"amount": 1200', '"amount": NaN')),
        Case("lone high surrogate", head + ', "x": "\\ud800"}'),
        Case("lone low surrogate in id", valid.replace('"acct-1"', '"acct-\\udc00"')),
    ]
