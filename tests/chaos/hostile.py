"""A deterministic generator of hostile SQS message bodies, each with what must happen to it.

Every body is labelled with a category and the set of DLQ reasons (``points.error_type``)
that are acceptable for it. A few categories are *valid* events in disguise (lying message
attributes, odd but legal identifiers): for those the expectation is ``APPLY`` and the
test checks they were applied, exactly once, with the body's content (never the
attributes'). The random mutations carry no label: ``tests.chaos.oracle`` judges them from
the written contract (DESIGN §3, README), independently of the consumer's decoder.

Bodies are ``str`` as SQS delivers them; ``sqs_safe`` says which of them SQS itself would
accept (XML 1.0 characters only, at most 256 KiB), for the end-to-end sample on moto.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from tests.chaos import oracle
from tests.support.factories import event_dict

#: The expectation of a valid event: applied, never dead-lettered.
APPLY: Final = frozenset({"applied"})
INVALID_BODY: Final = frozenset({"invalid_body"})
INVALID_ENVELOPE: Final = frozenset({"invalid_envelope"})
INVALID_EVENT: Final = frozenset({"invalid_event"})
BAD_VERSION: Final = frozenset({"unsupported_schema_version"})
ANY_SCHEMA: Final = INVALID_EVENT | BAD_VERSION
MAX_SQS_BYTES: Final = 256 * 1024

_XML_INVALID = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Hostile:
    category: str
    body: str
    expect: frozenset[str]
    attributes: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: For valid events (``expect == APPLY``): the event as the body states it.
    event: dict[str, Any] | None = None


def expectation(item: Hostile) -> tuple[frozenset[str], dict[str, Any] | None]:
    """(acceptable outcomes, the event if it must apply): the hand label, or for an
    unlabelled body (the mutations) the verdict of the contract oracle, never the code
    under test's."""
    if item.expect:
        return item.expect, item.event
    verdict = oracle.judge(item.body)
    return frozenset({verdict.outcome}), verdict.event


def sqs_safe(item: Hostile) -> bool:
    """SQS accepts only XML characters, and at most 256 KiB of body and attributes."""
    size = len(item.body.encode("utf-8", "surrogatepass")) + sum(
        len(k) + len(t) + len(v) for k, (t, v) in item.attributes.items()
    )
    return size <= MAX_SQS_BYTES and not _XML_INVALID.search(item.body)


CONTRACT_ATTRIBUTES: Final = {
    "event_type": ("String", "authorization"),
    "brand": ("String", "visa"),
    "schema_version": ("Number", "1"),
}


class _Gen:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.n = 0

    def event(self, kind: str | None = None, **overrides: Any) -> dict[str, Any]:
        """A fresh valid event with unique ids (so nothing collides across bodies)."""
        self.n += 1
        kind = kind or self.rng.choice(
            ["authorization", "authorization_reversal", "clearing", "refund"]
        )
        document = event_dict(
            kind,
            event_id=f"hx-{self.n}",
            payment_id=f"hp-{self.n}",
            account_id=f"ha-{self.n % 7}",
            amount=self.rng.randint(1, 99_999),
        )
        document.update(overrides)
        return document

    def text(self, length: int) -> str:
        alphabet = 'abcXYZ019{}[]":,\\ \n\tあ\u00e9\u2028\U0001f600'
        return "".join(self.rng.choice(alphabet) for _ in range(length))


def _broken_json(g: _Gen) -> Iterator[Hostile]:
    valid = json.dumps(g.event())
    for _ in range(60):
        cut = g.rng.randint(0, len(valid) - 1)
        yield Hostile("broken_json", valid[:cut], INVALID_BODY)
    for _ in range(40):
        yield Hostile("broken_json", g.text(g.rng.randint(1, 80)), INVALID_BODY)
    fixed = [
        "",
        " ",
        "\n\t",
        "{",
        "}",
        "{'schema_version': 1}",
        '{"a":1,}',
        '{"a" 1}',
        "\ufeff" + valid,
        valid + valid,
        valid + "x",
        "nul",
        "tru",
        "[1,2",
        '"unterminated',
        '{"a":"\x01"}',  # raw control character inside a string: not JSON
        '{"a":\x0b1}',
        "{\x00}",
        "\\u0000",
    ]
    for body in fixed:
        yield Hostile("broken_json", body, INVALID_BODY)


def _not_an_object(g: _Gen) -> Iterator[Hostile]:
    for body in ["null", "true", "false", "0", "-1", "1e999", "NaN", "Infinity", '"event"']:
        yield Hostile("not_an_object", body, INVALID_BODY)
    for _ in range(20):
        yield Hostile("not_an_object", json.dumps([g.event()] * g.rng.randint(0, 3)), INVALID_BODY)


def _envelope(message: Any, **overrides: Any) -> str:
    document: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": "0b6f8d2e-0000-4000-8000-000000000000",
        "TopicArn": "arn:aws:sns:ap-northeast-1:123456789012:payment-events",
        "Message": message,
    }
    document.update(overrides)
    return json.dumps(document)


def _broken_envelopes(g: _Gen) -> Iterator[Hostile]:
    inner = json.dumps(g.event())
    for kind in ["SubscriptionConfirmation", "UnsubscribeConfirmation", "notification", "", 1]:
        yield Hostile("broken_envelope", _envelope(inner, Type=kind), INVALID_ENVELOPE)
    yield Hostile("broken_envelope", _envelope(inner, Type=None), INVALID_ENVELOPE)
    messages: list[Any] = [None, 1, 1.5, True, [], {"schema_version": 1}, [inner]]
    for message in messages:
        yield Hostile("broken_envelope", _envelope(message), INVALID_ENVELOPE)
    no_message = json.loads(_envelope(inner))
    del no_message["Message"]
    yield Hostile("broken_envelope", json.dumps(no_message), INVALID_ENVELOPE)
    for _ in range(30):
        cut = g.rng.randint(0, len(inner) - 1)
        yield Hostile("broken_envelope", _envelope(inner[:cut]), INVALID_BODY)
    for text in ["null", "[]", "42", '"x"', ""]:
        yield Hostile("broken_envelope", _envelope(text), INVALID_BODY)
    # An envelope inside an envelope: the inner one is not an event.
    yield Hostile("broken_envelope", _envelope(_envelope(inner)), BAD_VERSION)
    # A well-formed envelope around an invalid event.
    for _ in range(10):
        bad = g.event(amount=0)
        yield Hostile("broken_envelope", _envelope(json.dumps(bad)), INVALID_EVENT)


WRONG_VALUES: Final[dict[str, list[Any]]] = {
    "amount": ["1200", 1200.5, 12.5, True, None, [], {}, "", "¥1200"],
    "event_id": [123, None, True, [], {}, ""],
    "payment_id": [1, None, [], ""],
    "account_id": [1, None, {}, ""],
    "occurred_at": [
        1732150000,
        "2026-11-21T10:00:00",
        "2026-11-21",
        "2026-11-21 10:00:00+09:00",
        "2026-13-01T00:00:00Z",
        "2026-11-21T25:00:00Z",
        "2026-11-21T10:00:60+09:00",
        "2026-11-21T10:00:00+99:00",
        "yesterday",
        "",
        None,
        # Legal-looking, but not a moment representable in UTC.
        "0001-01-01T00:00:00+00:01",
        "9999-12-31T23:59:59-00:01",
    ],
    "brand": ["VISA", "amex", "", 1, None],
    "currency": ["USD", "jpy", "", None, 392],
    "merchant": ["LAWSON", None, [], {"name": "X"}, {"name": "", "mcc": "5411", "country": "JP"}],
    "event_type": ["charge_back", "AUTHORIZATION", "", None, 1],
}
BAD_MERCHANT_FIELDS: Final[dict[str, list[Any]]] = {
    "mcc": [5411, "541", "54111", "54a1", "", None, "５４１１"],
    "country": ["jp", "JPN", "", 81, None],
    "name": ["", 1, None, "x" * 201],
}


def _wrong_types(g: _Gen) -> Iterator[Hostile]:
    for name, values in WRONG_VALUES.items():
        for value in values:
            for _ in range(2):
                yield Hostile(
                    "wrong_type", json.dumps(g.event(**{name: value})), INVALID_EVENT | BAD_VERSION
                )
    for name, values in BAD_MERCHANT_FIELDS.items():
        for value in values:
            document = g.event()
            document["merchant"] = {**document["merchant"], name: value}
            yield Hostile("wrong_type", json.dumps(document), INVALID_EVENT)
    for value in ["true", 1, 0, None]:
        yield Hostile(
            "wrong_type", json.dumps(g.event("authorization", approved=value)), INVALID_EVENT
        )
        yield Hostile("wrong_type", json.dumps(g.event("clearing", final=value)), INVALID_EVENT)
    for version in [2, 0, "1", None, True, 1.5, [1], {"v": 1}, -1]:
        yield Hostile("wrong_type", json.dumps(g.event(schema_version=version)), BAD_VERSION)
    for _ in range(30):
        document = g.event()
        required = sorted(set(document) - {"approved", "final"})  # these two have defaults
        for key in g.rng.sample(required, g.rng.randint(1, 4)):
            del document[key]
        yield Hostile("missing_field", json.dumps(document), ANY_SCHEMA)


def _boundary_amounts(g: _Gen) -> Iterator[Hostile]:
    for amount in [0, -1, -10_000_000, 10_000_001, 2**31, 2**63, -(2**63), 10**20, 10**300]:
        yield Hostile("boundary_amount", json.dumps(g.event(amount=amount)), INVALID_EVENT)
    for digits in [4300, 4301, 5000, 100_000]:
        # Python refuses to convert integers this long: still just a bad body, never a crash.
        body = json.dumps(g.event(amount=0)).replace('"amount": 0', '"amount": 1' + "0" * digits)
        yield Hostile("boundary_amount", body, INVALID_BODY | INVALID_EVENT)
    for literal in ["-0", "0.5", "1200.5", "1e400", "-1e400"]:
        body = json.dumps(g.event(amount=0)).replace('"amount": 0', f'"amount": {literal}')
        yield Hostile("boundary_amount", body, INVALID_EVENT)
    # A JSON number is one value however it is spelled (DESIGN §3): integral ones apply.
    for literal, value in [("1e3", 1000), ("1E7", 10_000_000), ("1.0", 1), ("12000e-1", 1200)]:
        event = g.event(amount=value)
        body = json.dumps(event).replace(f'"amount": {value}', f'"amount": {literal}')
        yield Hostile("boundary_amount_valid", body, APPLY, event=event)
    for amount in [1, 2, 99, 100, 9_999_999, 10_000_000]:
        event = g.event(amount=amount)
        yield Hostile("boundary_amount_valid", json.dumps(event), APPLY, event=event)


def _identifiers(g: _Gen) -> Iterator[Hostile]:
    for name in ["event_id", "payment_id", "account_id"]:
        for value in ["", "x" * 129, "あ" * 129, "x" * 10_000]:
            yield Hostile("identifier", json.dumps(g.event(**{name: value})), INVALID_EVENT)
    # Legal but odd: 128 characters, multibyte, control characters, SQL and markup.
    for value in [
        "x" * 128,
        "あ" * 128,
        "\U0001f600" * 128,
        "tab\tnewline\nbell\x07",
        "x'); DROP TABLE ledger_entries;--",
        '"; DELETE FROM ledger_events; --',
        "<xml attr='1'>&amp;</xml>",
        "%s %(x)s {0} $1 :name ?",
        " leading and trailing ",
    ]:
        event = g.event()
        event["account_id"] = value
        event["event_id"] = f"{event['event_id']}:{value}"[:128]
        yield Hostile("odd_identifier_valid", json.dumps(event), APPLY, event=event)


def _huge(g: _Gen) -> Iterator[Hostile]:
    limit = 256 * 1024
    base = g.event()
    padded = dict(base, padding="")
    frame = len(json.dumps(padded))
    # Just over the limit: refused by size, whatever is inside.
    yield Hostile("huge", json.dumps(dict(base, padding="p" * (limit - frame + 1))), INVALID_BODY)
    # Exactly at the limit and invalid: decoded, then refused by the schema.
    bad = dict(g.event(amount=-5), padding="")
    at_limit = json.dumps(dict(bad, padding="p" * (limit - len(json.dumps(bad)))))
    assert len(at_limit) == limit
    yield Hostile("huge", at_limit, INVALID_EVENT)
    # Big arrays and objects in an unknown field, plus one broken field.
    for size in [10_000, 30_000]:
        yield Hostile(
            "huge",
            json.dumps(g.event(currency="EUR", extra=list(range(size)))),
            INVALID_EVENT,
        )
        yield Hostile(
            "huge",
            json.dumps(g.event(brand="amex", extra={f"k{i}": i for i in range(size // 4)})),
            INVALID_EVENT,
        )
    yield Hostile(
        "huge", json.dumps(g.event(extra=list(range(60_000)))), INVALID_BODY
    )  # over the limit
    # 256 KiB of valid JSON that is not an object, and a long string as the whole body.
    yield Hostile("huge", json.dumps(["x" * 1000] * 250), INVALID_BODY)
    yield Hostile("huge", json.dumps("y" * (limit - 10)), INVALID_BODY)
    # A valid event under the limit whose unknown field is large: applied, field dropped.
    event = g.event()
    big = dict(event, note="n" * 200_000)
    yield Hostile("huge_valid", json.dumps(big), APPLY, event=event)


def _deep(g: _Gen) -> Iterator[Hostile]:
    for depth in [1_000, 10_000, 100_000]:
        yield Hostile("deep", "[" * depth + "]" * depth, INVALID_BODY)
        yield Hostile("deep", '{"a":' * depth + "1" + "}" * depth, INVALID_BODY)
        yield Hostile("deep", "[" * depth, INVALID_BODY)
        nested = json.dumps(g.event()).replace(
            '"currency"', '"extra": ' + "[" * depth + "]" * depth + ', "currency"'
        )
        yield Hostile("deep", nested, INVALID_BODY)
        yield Hostile("deep", _envelope("[" * depth + "]" * depth), INVALID_BODY)
    for depth in [10, 100, 500]:
        nested_event = json.dumps(g.event(merchant={"name": "x"})).replace(
            '"currency"', '"extra": ' + "[" * depth + "]" * depth + ', "currency"'
        )
        yield Hostile("deep", nested_event, INVALID_EVENT)


def _unicode(g: _Gen) -> Iterator[Hostile]:
    # Lone surrogates as JSON escapes (what a broken encoder sends through SQS).
    for escape in ["\\ud800", "\\udfff", "\\ud83d", "\\udc00x"]:
        for name in ["event_id", "account_id", "payment_id"]:
            body = json.dumps(g.event()).replace(f'"{name}": "', f'"{name}": "{escape}', 1)
            yield Hostile("unicode", body, INVALID_BODY)  # not Unicode text: not I-JSON
    # Lone surrogates as characters: not encodable, never seen through SQS, still handled.
    for char in ["\ud800", "\udfff"]:
        yield Hostile(
            "unicode_raw", '{"schema_version": 1, "event_id": "' + char + '"}', INVALID_BODY
        )
        yield Hostile("unicode_raw", char, INVALID_BODY)
    # Characters SQS refuses in a body, as raw characters (invalid JSON outside strings).
    for char in ["\x00", "\x01", "\x1f", "\ufffe", "\uffff"]:
        yield Hostile("control_raw", "{" + char + "}", INVALID_BODY)
    # Control characters everywhere they can legally go.
    for code in [0x00, 0x01, 0x08, 0x0B, 0x1B, 0x7F, 0x85, 0x2028]:
        escaped = f"\\u{code:04x}"
        body = json.dumps(g.event(merchant={"name": "x", "mcc": "5411", "country": "JP"}))
        yield Hostile(
            "control_escaped",
            body.replace('"mcc": "5411"', f'"mcc": "54{escaped}1"'),
            INVALID_EVENT,
        )
        yield Hostile(
            "control_escaped",
            json.dumps(g.event(currency=f"JP{chr(code)}")),
            INVALID_EVENT,
        )


#: Spellings of one instant that apply, each with its canonical form written by hand.
VALID_INSTANTS: Final = {
    "2026-11-21T10:00:00.123456000+09:00": "2026-11-21T01:00:00.123456Z",
    "2026-11-21t01:00:00.5z": "2026-11-21T01:00:00.500000Z",
    "2024-02-29T23:59:59-00:30": "2024-03-01T00:29:59.000000Z",
    "2000-02-29T00:00:00Z": "2000-02-29T00:00:00.000000Z",
    "1900-01-01T00:00:00+01:00": "1899-12-31T23:00:00.000000Z",
    "2999-12-31T23:59:59.999999-01:00": "3000-01-01T00:59:59.999999Z",
}
INVALID_INSTANTS: Final = [
    "2026-11-21T10:00:00.1234567+09:00",  # a seventh digit that is not zero
    "2026-11-21T10:00:00.1234560000+09:00",  # ten digits, even of zeros
    "2026-11-21T10:00:00.+09:00",
    "1899-12-31T23:59:59Z",
    "3000-01-01T00:00:00Z",
    "2023-02-29T00:00:00Z",
    "2100-02-29T00:00:00Z",
    "1900-02-29T00:00:00Z",
    "2026-04-31T00:00:00Z",
    "2026-12-31T23:59:60Z",
    "2026-11-21T10:00:00+0900",
    "2026-11-21T10:00:00+24:00",
    "2026-11-21T10:00:00+09:60",
    "2026-11-21T10:00:00+09:00\n",
    "\uff12026-11-21T10:00:00Z",  # a fullwidth digit
]


def _contract_rules(g: _Gen) -> Iterator[Hostile]:
    """DESIGN §3 as #15 wrote it out: I-JSON bodies, a ``Type`` field in an event, instants."""
    valid = json.dumps(g.event())
    # A repeated key anywhere (top level, merchant, an unknown field, the SNS envelope).
    for old, new in [
        ('"amount": ', '"amount": 5, "amount": '),
        ('"mcc": ', '"mcc": "5411", "mcc": '),
        ('"currency": ', '"extra": {"k": 1, "k": 1}, "currency": '),
    ]:
        yield Hostile("i_json", json.dumps(g.event()).replace(old, new, 1), INVALID_BODY)
    envelope = _envelope(valid).replace('"Type": ', '"Message": "{}", "Type": ', 1)
    yield Hostile("i_json", envelope, INVALID_BODY)
    inner = json.dumps(g.event()).replace('"brand": ', '"brand": "visa", "brand": ', 1)
    yield Hostile("i_json", _envelope(inner), INVALID_BODY)
    # Not JSON numbers, as the amount or in an unknown field; a lone surrogate escape there.
    for literal in ["NaN", "Infinity", "-Infinity"]:
        body = json.dumps(g.event(amount=0)).replace('"amount": 0', f'"amount": {literal}')
        yield Hostile("i_json", body, INVALID_BODY)
        body = json.dumps(g.event()).replace('"currency": ', f'"x": [{literal}], "currency": ')
        yield Hostile("i_json", body, INVALID_BODY)
    body = json.dumps(g.event()).replace('"currency": ', '"note": "\\udc00", "currency": ')
    yield Hostile("i_json", body, INVALID_BODY)
    # An event with a "Type" of its own is still an event (it has a schema_version).
    for kind in ["Notification", "SubscriptionConfirmation", 1]:
        event = g.event()
        yield Hostile("type_field_valid", json.dumps(dict(event, Type=kind)), APPLY, event=event)
    yield Hostile("type_field", _envelope(valid, schema_version=1), INVALID_EVENT)
    for spelling, canonical in VALID_INSTANTS.items():
        event = g.event(occurred_at=spelling)
        stated = dict(event, occurred_at=canonical)
        yield Hostile("instant_valid", json.dumps(event), APPLY, event=stated)
    for spelling in INVALID_INSTANTS:
        yield Hostile("instant", json.dumps(g.event(occurred_at=spelling)), INVALID_EVENT)


def _lying_attributes(g: _Gen) -> Iterator[Hostile]:
    lies: list[dict[str, tuple[str, str]]] = [
        {"event_type": ("String", "refund"), "brand": ("String", "quicpay")},
        {"schema_version": ("Number", "2")},
        {"schema_version": ("Number", "abc")},
        {"event_type": ("Number", "1"), "brand": ("String", "")},
        {"points.error_type": ("String", "spoofed"), "points.receive_count": ("Number", "99")},
        {f"x{i}": ("String", "v" * 50) for i in range(7)} | CONTRACT_ATTRIBUTES,
    ]
    for lie in lies:
        # Valid body, lying attributes: the body decides.
        event = g.event()
        yield Hostile("lying_attributes_valid", json.dumps(event), APPLY, dict(lie), event)
        # Invalid body, truthful-looking attributes: dead-lettered, attributes kept.
        yield Hostile(
            "lying_attributes",
            json.dumps(g.event(amount=10_000_001)),
            INVALID_EVENT,
            CONTRACT_ATTRIBUTES | lie,
        )
        yield Hostile("lying_attributes", "{broken", INVALID_BODY, CONTRACT_ATTRIBUTES | lie)


def _mutations(g: _Gen) -> Iterator[Hostile]:
    """Random character-level damage to valid events: unlabelled, judged by the oracle."""
    for _ in range(450):
        text = json.dumps(g.event())
        chars = list(text)
        for _ in range(g.rng.randint(1, 4)):
            where = g.rng.randrange(len(chars))
            action = g.rng.randrange(3)
            if action == 0:
                del chars[where]
            elif action == 1:
                chars.insert(where, g.rng.choice('{}[]":,\\0-e.x \x00'))
            else:
                chars[where] = g.rng.choice('{}[]":,\\0-e.x')
        yield Hostile("mutation", "".join(chars), frozenset())  # oracle.judge decides


def _plain_valid(g: _Gen) -> Iterator[Hostile]:
    """Ordinary events mixed in: they must still apply, in the same batches as the poison."""
    for _ in range(50):
        event = g.event()
        yield Hostile("plain_valid", json.dumps(event), APPLY, event=event)


GENERATORS: Final[list[Callable[[_Gen], Iterator[Hostile]]]] = [
    _broken_json,
    _not_an_object,
    _broken_envelopes,
    _wrong_types,
    _boundary_amounts,
    _identifiers,
    _huge,
    _deep,
    _unicode,
    _contract_rules,
    _lying_attributes,
    _mutations,
    _plain_valid,
]


def hostile_bodies(seed: int = 20261122) -> list[Hostile]:
    """Every hostile body of every category, in a seeded shuffled order."""
    g = _Gen(random.Random(seed))
    items = [item for generate in GENERATORS for item in generate(g)]
    g.rng.shuffle(items)
    return items
