"""Message bodies for the end-to-end benchmarks, exactly as they travel on the wire.

Payments as a card issuer sees them (authorization, final clearing, a refund for one in
five), interleaved across payments, with a share of redeliveries: the same body again a
little later, as at-least-once delivery produces. Deterministic for a given seed, so that
every contender gets the very same messages.
"""

from __future__ import annotations

import json
import random
from typing import Any, Final

from schemas.envelope import parse_event
from schemas.events import PaymentEvent, payment_of

DUPLICATE_SHARE: Final = 0.1
LAWSON: Final = {"name": "LAWSON", "mcc": "5411", "country": "JP"}
#: The field of the type itself: authorizations approved, clearings not final, by default.
_TYPE_FIELD: Final[dict[str, dict[str, Any]]] = {
    "authorization": {"approved": True},
    "clearing": {"final": False},
}


def event_dict(event_type: str = "authorization", **fields: Any) -> dict[str, Any]:
    """A valid v1 payment event as producers publish it (DESIGN §3), with ``fields`` set.

    The benchmarks' own builder: they import nothing from ``tests``. Keys in wire order (the
    type's own field last), so that a workload's bytes stay the same from run to run.
    """
    document: dict[str, Any] = dict(
        schema_version=1,
        event_id=f"evt-{event_type}-1",
        event_type=event_type,
        occurred_at="2026-11-21T10:00:00+09:00",
        brand="visa",
        payment_id="pay-1",
        account_id="acct-1",
        amount=1200,
        currency="JPY",
        merchant=dict(LAWSON),
    )
    return document | _TYPE_FIELD.get(event_type, {}) | fields


def make_event(event_type: str = "authorization", **fields: Any) -> PaymentEvent:
    """``event_dict`` through the real decoder, as a producer library would hold it."""
    event = payment_of(parse_event(event_dict(event_type, **fields)))
    if event is None:
        raise ValueError(f"{event_type} is not a payment event type")
    return event


def payment_bodies(count: int, *, seed: int = 11, duplicates: float = DUPLICATE_SHARE) -> list[str]:
    """``count`` bodies of which about ``duplicates`` are redeliveries of earlier ones."""
    rng = random.Random(seed)
    accounts = max(1, count // 20)
    distinct: list[str] = []
    n = 0
    while len(distinct) < count:
        n += 1
        common: dict[str, Any] = {
            "payment_id": f"pay-{n}",
            "account_id": f"acct-{rng.randrange(accounts)}",
            "brand": rng.choice(["visa", "quicpay"]),
            "amount": rng.randint(100, 20_000),
        }
        distinct.append(json.dumps(event_dict("authorization", event_id=f"auth-{n}", **common)))
        distinct.append(
            json.dumps(
                event_dict(
                    "clearing",
                    event_id=f"clear-{n}",
                    final=True,
                    occurred_at="2026-11-23T10:00:00+09:00",
                    **common,
                )
            )
        )
        if rng.random() < 0.2:
            refund = {**common, "amount": int(common["amount"]) // 2}
            distinct.append(
                json.dumps(
                    event_dict(
                        "refund",
                        event_id=f"refund-{n}",
                        occurred_at="2026-11-25T10:00:00+09:00",
                        **refund,
                    )
                )
            )
    bodies: list[str] = []
    for body in distinct:
        if len(bodies) >= count:
            break
        bodies.append(body)
        if bodies and rng.random() < duplicates and len(bodies) < count:
            bodies.append(bodies[rng.randrange(max(0, len(bodies) - 50), len(bodies))])
    return bodies[:count]


def clearing_bodies(count: int, *, seed: int = 13) -> list[str]:
    """A daily clearing file: one final clearing per payment, over many accounts."""
    rng = random.Random(seed)
    accounts = max(1, count // 10)
    return [
        json.dumps(
            event_dict(
                "clearing",
                event_id=f"clr-{n}",
                final=True,
                payment_id=f"pay-clr-{n}",
                account_id=f"acct-{rng.randrange(accounts)}",
                brand=rng.choice(["visa", "quicpay"]),
                amount=rng.randint(100, 50_000),
                occurred_at="2026-11-23T03:00:00+09:00",
            )
        )
        for n in range(count)
    ]
