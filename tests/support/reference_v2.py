"""An independent reference model of DESIGN §4 v2, for property tests.

Written from DESIGN §3, §4 and §6 alone, in the plainest way: the standard library only,
no import from ``consumers`` or ``schemas``, wire-format dicts in (payment events and
``points_grant`` events exactly as producers publish them, and a rules document exactly as
``points rules publish`` reads it), JSON-shaped dicts out, and every number recomputed from
scratch in one pass. No incremental state, no caching, no shared helpers with the code
under test. If the ledger's pure functions agree with this on generated stories, they
compute what the spec says.

Decisions DESIGN leaves open, taken here the same way as in the ledger (and reported):
with ``month`` given, ``explain`` lists that month and the grants whose ``occurred_at``
falls in it (JST), and keeps the account's whole balance; payments in a month are listed
by (anchor instant, payment_id), grants by (instant, event_id); instants are written in
UTC as ``datetime.isoformat`` writes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

TOKYO = timezone(timedelta(hours=9))
PAYMENT_TYPES = (
    "authorization",
    "authorization_reversal",
    "clearing",
    "refund",
    "refund_reversal",
    "chargeback",
    "chargeback_reversal",
)

#: §4.6: "Until a version is published the built-in default applies".
BUILT_IN: dict[str, Any] = {
    "effective_from": None,
    "rates_bp": {"visa": 100, "quicpay": 50},
    "excluded_mccs": ["4829", "6051", "6540", "9311"],
    "monthly_cap_points": None,
    "campaigns": [],
}
DEFAULT_DOCUMENT: dict[str, Any] = {"versions": [BUILT_IN]}

Event = Mapping[str, Any]


def when(text: str) -> datetime:
    """An RFC 3339 instant (with offset) as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def tokyo_month(moment: datetime) -> str:
    """§4.3: the account-month is the anchor's month in Asia/Tokyo (UTC+9)."""
    local = moment.astimezone(TOKYO)
    return f"{local.year:04d}-{local.month:02d}"


def first_instant(month: str) -> datetime:
    year, number = month.split("-")
    return datetime(int(year), int(number), 1, tzinfo=TOKYO)


def version_in_force(document: Mapping[str, Any], moment: datetime) -> Mapping[str, Any]:
    """§4.2: the latest version whose effective_from is not after ``moment``, else the
    earliest version. A missing effective_from is "since forever"."""
    earliest = datetime.min.replace(tzinfo=UTC)

    def start(version: Mapping[str, Any]) -> datetime:
        value = version.get("effective_from")
        return earliest if value is None else when(value)

    versions = list(document["versions"])
    started = [v for v in versions if start(v) <= moment]
    if started:
        return max(started, key=start)
    return min(versions, key=start)


def in_scope(campaign: Mapping[str, Any], key: str, value: str) -> bool:
    listed = campaign.get(key) or []
    return len(listed) == 0 or value in listed


def rate_of(document: Mapping[str, Any], anchor: Event) -> tuple[int, list[str]]:
    """§4.2: 0 if the anchor's MCC is excluded, else base + every matching campaign."""
    moment = when(anchor["occurred_at"])
    version = version_in_force(document, moment)
    mcc = anchor["merchant"]["mcc"]
    country = anchor["merchant"]["country"]
    if mcc in version.get("excluded_mccs", []):
        return 0, []
    rate = version["rates_bp"][anchor["brand"]]
    applied = []
    for campaign in version.get("campaigns", []):
        if not when(campaign["starts_at"]) <= moment < when(campaign["ends_at"]):
            continue
        if (
            in_scope(campaign, "brands", anchor["brand"])
            and in_scope(campaign, "mccs", mcc)
            and in_scope(campaign, "countries", country)
        ):
            rate += campaign["bonus_bp"]
            applied.append(campaign["id"])
    return rate, sorted(applied)


def points_at(amount: int, rate: int) -> int:
    """pts(x) = floor(max(0, x) × rate / 10000)."""
    if amount <= 0:
        return 0
    return (amount * rate) // 10000


def payment(
    events: Iterable[Event], document: Mapping[str, Any] = DEFAULT_DOCUMENT, expired: bool = False
) -> dict[str, Any]:
    """Everything §4.1–4.2 say about one payment, from its events (duplicates allowed)."""
    by_id: dict[str, Event] = {}
    for event in events:
        by_id.setdefault(event["event_id"], event)
    distinct = list(by_id.values())
    sums = dict.fromkeys(PAYMENT_TYPES, 0)
    approved_at: list[datetime] = []
    final = False
    for event in distinct:
        kind = event["event_type"]
        if kind == "authorization":
            if event.get("approved", True) is False:
                continue
            approved_at.append(when(event["occurred_at"]))
        if kind == "clearing" and event.get("final", False):
            final = True
        sums[kind] += event["amount"]
    anchor = sorted(distinct, key=lambda e: (when(e["occurred_at"]), e["event_id"]))[0]
    rate, campaigns = rate_of(document, anchor)
    returned = (
        sums["refund"] - sums["refund_reversal"] + sums["chargeback"] - sums["chargeback_reversal"]
    )
    confirmed = points_at(sums["clearing"] - returned, rate)
    provisional = 0
    if not final and not expired:
        open_amount = sums["authorization"] - sums["authorization_reversal"] - sums["clearing"]
        provisional = points_at(open_amount, rate)
    return {
        "payment_id": anchor["payment_id"],
        "account_id": anchor["account_id"],
        "brand": anchor["brand"],
        "authorized": sums["authorization"],
        "reversed": sums["authorization_reversal"],
        "cleared": sums["clearing"],
        "refunded": sums["refund"],
        "refund_reversed": sums["refund_reversal"],
        "charged_back": sums["chargeback"],
        "chargeback_reversed": sums["chargeback_reversal"],
        "returned": returned,
        "final": final,
        "expired": expired,
        "anchor_event_id": anchor["event_id"],
        "anchor_at": when(anchor["occurred_at"]),
        "latest_authorized_at": max(approved_at) if approved_at else None,
        "month": tokyo_month(when(anchor["occurred_at"])),
        "rate_bp": rate,
        "campaigns": campaigns,
        "confirmed": confirmed,
        "provisional": provisional,
    }


def cap_of(document: Mapping[str, Any], month: str) -> int | None:
    """§4.3: the cap of the version in force at the month's first instant (JST)."""
    cap: int | None = version_in_force(document, first_instant(month)).get("monthly_cap_points")
    return cap


def credit(earned_confirmed: int, earned_provisional: int, cap: int | None) -> tuple[int, int]:
    """§4.3: min(E_c, cap), then min(E_p, cap − credited confirmed)."""
    if cap is None:
        return earned_confirmed, earned_provisional
    confirmed = min(earned_confirmed, cap)
    return confirmed, min(earned_provisional, cap - confirmed)


def ledger(
    events: Iterable[Event],
    document: Mapping[str, Any] = DEFAULT_DOCUMENT,
    expired: Iterable[str] = (),
) -> dict[str, Any]:
    """Payments, account-months, grants and balances of a whole set of events."""
    expired_ids = set(expired)
    by_payment: dict[str, list[Event]] = {}
    grants: dict[str, Event] = {}
    for event in events:
        if event["event_type"] == "points_grant":
            grants.setdefault(event["event_id"], event)
        else:
            by_payment.setdefault(event["payment_id"], []).append(event)
    payments = {pid: payment(evs, document, pid in expired_ids) for pid, evs in by_payment.items()}
    months: dict[tuple[str, str], dict[str, Any]] = {}
    for p in payments.values():
        key = (p["account_id"], p["month"])
        row = months.setdefault(key, {"earned_confirmed": 0, "earned_provisional": 0, "ids": []})
        row["earned_confirmed"] += p["confirmed"]
        row["earned_provisional"] += p["provisional"]
        row["ids"].append(p["payment_id"])
    for (_, month), row in months.items():
        row["cap"] = cap_of(document, month)
        row["credited_confirmed"], row["credited_provisional"] = credit(
            row["earned_confirmed"], row["earned_provisional"], row["cap"]
        )
    balances: dict[str, dict[str, int]] = {}
    for (account, _), row in months.items():
        b = balances.setdefault(account, {"confirmed": 0, "provisional": 0})
        b["confirmed"] += row["credited_confirmed"]
        b["provisional"] += row["credited_provisional"]
    for grant in grants.values():
        b = balances.setdefault(grant["account_id"], {"confirmed": 0, "provisional": 0})
        b["confirmed"] += grant["points"]
    return {"payments": payments, "months": months, "grants": grants, "balances": balances}


def explain(
    events: Iterable[Event],
    account_id: str,
    document: Mapping[str, Any] = DEFAULT_DOCUMENT,
    expired: Iterable[str] = (),
    month: str | None = None,
) -> dict[str, Any]:
    """The ``points ledger explain ACCOUNT [--month M] --json`` document of §6."""
    state = ledger(events, document, expired)
    payments = state["payments"]
    month_docs = []
    for account, key_month in sorted(state["months"]):
        if account != account_id or (month is not None and key_month != month):
            continue
        row = state["months"][(account, key_month)]
        ordered = sorted(row["ids"], key=lambda pid: (payments[pid]["anchor_at"], pid))
        month_docs.append(
            {
                "month": key_month,
                "cap": row["cap"],
                "earned": {
                    "confirmed": row["earned_confirmed"],
                    "provisional": row["earned_provisional"],
                },
                "credited": {
                    "confirmed": row["credited_confirmed"],
                    "provisional": row["credited_provisional"],
                },
                "payments": [
                    {
                        "payment_id": pid,
                        "rate_bp": payments[pid]["rate_bp"],
                        "campaigns": payments[pid]["campaigns"],
                        "confirmed": payments[pid]["confirmed"],
                        "provisional": payments[pid]["provisional"],
                    }
                    for pid in ordered
                ],
            }
        )
    grant_docs = [
        {
            "event_id": g["event_id"],
            "occurred_at": when(g["occurred_at"]).astimezone(UTC).isoformat(),
            "points": g["points"],
            "reason": g["reason"],
            "source": g["source"],
        }
        for g in sorted(
            state["grants"].values(), key=lambda g: (when(g["occurred_at"]), g["event_id"])
        )
        if g["account_id"] == account_id
        and (month is None or tokyo_month(when(g["occurred_at"])) == month)
    ]
    balance = state["balances"].get(account_id, {"confirmed": 0, "provisional": 0})
    return {
        "account_id": account_id,
        "balance": dict(balance),
        "months": month_docs,
        "grants": grant_docs,
    }
