"""A small, independent reference model of DESIGN §4, for property tests.

Deliberately written apart from ``consumers.points``: plain dicts of the wire format,
one pass per payment, no incremental state. If both agree on generated stories, the
incremental, concurrent ledger computes what the spec says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

VISA_BP = 100
QUICPAY_BP = 50
EXCLUDED = {"4829", "6051", "6540", "9311"}

#: [(effective_from or None, {brand: bp}, excluded mccs)], oldest first.
RuleTable = list[tuple[datetime | None, Mapping[str, int], set[str]]]
#: §4.3: account-months are calendar months in Asia/Tokyo (UTC+9, no daylight saving).
TOKYO = timezone(timedelta(hours=9))
DEFAULT_TABLE: RuleTable = [(None, {"visa": VISA_BP, "quicpay": QUICPAY_BP}, EXCLUDED)]


def _when(event: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(event["occurred_at"]).replace("Z", "+00:00"))


def _rate(table: RuleTable, anchor: Mapping[str, Any]) -> int:
    at = _when(anchor)
    chosen = table[0]
    for row in table:
        if row[0] is None or row[0] <= at:
            chosen = row
    _, rates, excluded = chosen
    if anchor["merchant"]["mcc"] in excluded:
        return 0
    return rates[anchor["brand"]]


def payment_state(
    events: Iterable[Mapping[str, Any]], table: RuleTable = DEFAULT_TABLE, expired: bool = False
) -> dict[str, Any]:
    """The DESIGN §6 payment document of one payment's events (duplicates allowed)."""
    distinct = {e["event_id"]: e for e in events}.values()
    total = {"authorization": 0, "authorization_reversal": 0, "clearing": 0, "refund": 0}
    final = False
    for e in distinct:
        if e["event_type"] == "authorization" and not e.get("approved", True):
            continue
        total[e["event_type"]] += e["amount"]
        final = final or (e["event_type"] == "clearing" and e.get("final", False))
    anchor = min(distinct, key=lambda e: (_when(e), e["event_id"]))
    rate = _rate(table, anchor)

    def pts(x: int) -> int:
        return (x * rate) // 10000 if x > 0 else 0

    confirmed = pts(total["clearing"] - total["refund"])
    provisional = 0
    if not final and not expired:
        provisional = pts(
            total["authorization"] - total["authorization_reversal"] - total["clearing"]
        )
    return {
        "payment_id": anchor["payment_id"],
        "account_id": anchor["account_id"],
        "brand": anchor["brand"],
        "authorized": total["authorization"],
        "reversed": total["authorization_reversal"],
        "cleared": total["clearing"],
        "refunded": total["refund"],
        "final": final,
        "expired": expired,
        "confirmed": confirmed,
        "provisional": provisional,
        # The v2 keys §6 adds: v1 stories have no refund reversal, chargeback or campaign.
        "refund_reversed": 0,
        "charged_back": 0,
        "chargeback_reversed": 0,
        "returned": total["refund"],
        "month": _when(anchor).astimezone(TOKYO).strftime("%Y-%m"),
        "rate_bp": rate,
        "campaigns": [],
    }


def ledger_state(
    events: Iterable[Mapping[str, Any]], table: RuleTable = DEFAULT_TABLE
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """(payments by id, balances sorted by account) for a whole set of stories."""
    by_payment: dict[str, list[Mapping[str, Any]]] = {}
    for e in events:
        by_payment.setdefault(e["payment_id"], []).append(e)
    payments = {pid: payment_state(evs, table) for pid, evs in by_payment.items()}
    accounts: dict[str, dict[str, Any]] = {}
    for p in payments.values():
        row = accounts.setdefault(
            p["account_id"], {"account_id": p["account_id"], "confirmed": 0, "provisional": 0}
        )
        row["confirmed"] += p["confirmed"]
        row["provisional"] += p["provisional"]
    return payments, [accounts[a] for a in sorted(accounts)]
