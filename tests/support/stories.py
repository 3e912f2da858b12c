"""v1 payment stories as wire-format dicts, shared by the test suites.

* hypothesis strategies (``stories``, ``payment_story``, ``deliveries``, ``batches``) for the
  ledger's property tests: any types, times and orders, with duplicates;
* ``authorize_then_clear``: simple stories with an obvious expected ledger, for tests about
  transport (the worker, redrive, graceful stop), where each payment is "authorize, then
  clear in full (final)" and ``expected_balances`` is what the reference model gives.
"""

from __future__ import annotations

import random
from typing import Any

from hypothesis import strategies as st

from tests.support import reference
from tests.support.factories import event_dict

TIMES = [
    "2026-11-01T09:00:00+09:00",
    "2026-11-01T00:00:00Z",  # the same instant as the line above, other offset
    "2026-11-15T12:00:00+09:00",
    "2026-12-01T00:00:00+09:00",
    "2026-12-20T08:30:00+09:00",
]
AMOUNTS = [1, 50, 99, 100, 150, 1000, 1234, 9999, 50000]
KINDS = ["authorization", "authorization", "authorization_reversal", "clearing", "refund"]


@st.composite
def payment_story(draw: st.DrawFn, payment_no: int, account_no: int) -> list[dict[str, Any]]:
    """1–6 events of one payment, any types and times, some declined, some final."""
    brand = draw(st.sampled_from(["visa", "quicpay"]))
    count = draw(st.integers(1, 6))
    events: list[dict[str, Any]] = []
    for n in range(count):
        kind = draw(st.sampled_from(KINDS))
        event: dict[str, Any] = {
            "schema_version": 1,
            "event_id": f"p{payment_no}-e{n}",
            "event_type": kind,
            "occurred_at": draw(st.sampled_from(TIMES)),
            "brand": brand,
            "payment_id": f"pay-{payment_no}",
            "account_id": f"acct-{account_no}",
            "amount": draw(st.sampled_from(AMOUNTS)),
            "currency": "JPY",
            "merchant": {
                "name": "SHOP",
                "mcc": draw(st.sampled_from(["5411", "5411", "4829"])),
                "country": "JP",
            },
        }
        if kind == "authorization":
            event["approved"] = draw(st.booleans() | st.just(True))
        if kind == "clearing":
            event["final"] = draw(st.booleans())
        events.append(event)
    return events


@st.composite
def stories(draw: st.DrawFn, max_payments: int = 4) -> list[dict[str, Any]]:
    """Several payments over a few shared accounts."""
    payments = draw(st.integers(1, max_payments))
    events: list[dict[str, Any]] = []
    for p in range(payments):
        events += draw(payment_story(p, draw(st.integers(1, 3))))
    return events


@st.composite
def deliveries(draw: st.DrawFn, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A permutation of ``events`` with random duplicates (at-least-once, any order)."""
    extra = draw(st.lists(st.sampled_from(events), max_size=len(events))) if events else []
    return draw(st.permutations(events + extra))


@st.composite
def batches(draw: st.DrawFn, items: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Cut a delivery sequence into batches of 1–10."""
    out: list[list[dict[str, Any]]] = []
    start = 0
    while start < len(items):
        size = draw(st.integers(1, 10))
        out.append(items[start : start + size])
        start += size
    return out


def authorize_then_clear(count: int, *, seed: int = 7, accounts: int = 4) -> list[dict[str, Any]]:
    """``count`` payments, each an approved authorization then a final clearing in full."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    for n in range(count):
        brand = rng.choice(["visa", "quicpay"])
        common = {
            "payment_id": f"pay-{n}",
            "account_id": f"acct-{n % accounts}",
            "brand": brand,
            "amount": rng.randint(1, 50_000),
        }
        events.append(event_dict("authorization", event_id=f"auth-{n}", **common))
        events.append(
            event_dict(
                "clearing",
                event_id=f"clear-{n}",
                final=True,
                occurred_at="2026-11-22T10:00:00+09:00",
                **common,
            )
        )
    return events


def expected_balances(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What ``points ledger balances --json`` must print once every event is applied."""
    return reference.ledger_state(events)[1]
