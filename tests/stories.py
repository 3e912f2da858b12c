"""Simple payment stories with an obvious expected ledger, for runtime-level tests.

The ledger's own property tests own the hard semantics; these tests are about transport,
so each story is "authorize, then clear in full (final)" and its expected points are
``floor(amount × rate / 10000)`` confirmed, nothing provisional.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from typing import Any

from tests.factories import event_dict

RATE_BP = {"visa": 100, "quicpay": 50}


def authorize_then_clear(count: int, *, seed: int = 7, accounts: int = 4) -> list[dict[str, Any]]:
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
    confirmed: dict[str, int] = defaultdict(int)
    for event in events:
        if event["event_type"] == "clearing":
            confirmed[event["account_id"]] += event["amount"] * RATE_BP[event["brand"]] // 10_000
    return [
        {"account_id": a, "confirmed": c, "provisional": 0} for a, c in sorted(confirmed.items())
    ]


def bodies(events: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(e) for e in events]
