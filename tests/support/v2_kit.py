"""Wire dicts into the v2 domain, and an in-memory ledger built from its incremental API.

``IncrementalLedger`` applies one event at a time exactly as phase 2's ledger transaction
is meant to (see ``consumers.points.earning``): fold the event into its payment, turn the
payment's before/after earning into earned deltas per account-month, ``settle`` them on the
month totals, and append one entry per touched account-month. It is a fake of no port:
only the pure functions under test, driven the way the ledger will drive them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import count
from typing import Any

from consumers.points.amounts import Points
from consumers.points.earning import MonthRef, MonthTotals, earned_changes, earning, settle
from consumers.points.facts import (
    EventFacts,
    Grant,
    PaymentEventType,
    PaymentFacts,
    apply_event,
    fold,
)
from consumers.points.rules import Rules, parse_rules
from schemas.events import Brand, GrantReason
from tests.support.factories import event_dict


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def event_facts(document: Mapping[str, Any]) -> EventFacts:
    """A payment event of the wire format as the domain sees it."""
    return EventFacts(
        event_id=document["event_id"],
        event_type=PaymentEventType(document["event_type"]),
        payment_id=document["payment_id"],
        account_id=document["account_id"],
        brand=Brand(document["brand"]),
        occurred_at=instant(document["occurred_at"]),
        amount=document["amount"],
        mcc=document["merchant"]["mcc"],
        country=document["merchant"]["country"],
        approved=document.get("approved", True),
        final=document.get("final", False),
    )


def grant_of(document: Mapping[str, Any]) -> Grant:
    return Grant(
        event_id=document["event_id"],
        account_id=document["account_id"],
        occurred_at=instant(document["occurred_at"]),
        points=document["points"],
        reason=GrantReason(document["reason"]),
        source=document["source"],
    )


def is_grant(document: Mapping[str, Any]) -> bool:
    return bool(document["event_type"] == "points_grant")


def rules_of(document: Mapping[str, Any]) -> Rules:
    """A rules document through the real parser (as ``rules publish`` would read it)."""
    return parse_rules(json.dumps(document))


def payments_of(
    events: Iterable[Mapping[str, Any]], expired: Iterable[str] = ()
) -> list[PaymentFacts]:
    """Every payment folded from scratch (copies of an event id count once)."""
    by_payment: dict[str, list[EventFacts]] = {}
    for document in events:
        if not is_grant(document):
            by_payment.setdefault(document["payment_id"], []).append(event_facts(document))
    gone = set(expired)
    return [fold(pid, evs, expired=pid in gone) for pid, evs in sorted(by_payment.items())]


def grants_of(events: Iterable[Mapping[str, Any]]) -> list[Grant]:
    distinct = {d["event_id"]: d for d in events if is_grant(d)}
    return [grant_of(d) for d in distinct.values()]


@dataclass(frozen=True)
class Entry:
    """An append-only ledger entry: a cause and the credited delta of one account-month."""

    cause: str
    account_id: str
    month: str | None  # None for a grant
    delta: Points


@dataclass
class IncrementalLedger:
    """Applies events one by one through the incremental API (what phase 2 will do)."""

    rules: Rules
    seen: set[str] = field(default_factory=set)
    payments: dict[str, PaymentFacts] = field(default_factory=dict)
    months: dict[MonthRef, MonthTotals] = field(default_factory=dict)
    balances: dict[str, Points] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)

    @property
    def expired(self) -> set[str]:
        return {pid for pid, facts in self.payments.items() if facts.expired}

    def apply(self, document: Mapping[str, Any]) -> None:
        """One delivery: a known event id is a duplicate and changes nothing."""
        if document["event_id"] in self.seen:
            return
        self.seen.add(document["event_id"])
        if is_grant(document):
            grant = grant_of(document)
            self._book(Entry(grant.event_id, grant.account_id, None, Points(grant.points, 0)))
            return
        facts = event_facts(document)
        before = self.payments.get(facts.payment_id) or PaymentFacts.empty(
            facts.payment_id, facts.account_id, facts.brand
        )
        self._change(facts.event_id, before, apply_event(before, facts))

    def expire(self, payment_id: str) -> None:
        """The expiry job releasing a payment (a no-op if unknown or already released)."""
        before = self.payments.get(payment_id)
        if before is not None and not before.expired:
            self._change(f"expiry:{payment_id}", before, replace(before, expired=True))

    def _change(self, cause: str, before: PaymentFacts, after: PaymentFacts) -> None:
        self.payments[after.payment_id] = after
        changes = earned_changes(earning(before, self.rules), earning(after, self.rules))
        update = settle(self.months, changes, self.rules)
        self.months.update(update.months)
        for ref, delta in update.credited_deltas.items():
            self._book(Entry(cause, ref.account_id, ref.month, delta))

    def _book(self, entry: Entry) -> None:
        self.entries.append(entry)
        self.balances[entry.account_id] = self.balances.get(entry.account_id, Points()) + (
            entry.delta
        )

    def nonzero_months(self) -> dict[MonthRef, MonthTotals]:
        """Month rows with earned points (a row of zeros is the same as no row)."""
        return {ref: t for ref, t in self.months.items() if t.earned != Points()}

    def entry_sums(self) -> dict[str, Points]:
        sums: dict[str, Points] = {}
        for entry in self.entries:
            sums[entry.account_id] = sums.get(entry.account_id, Points()) + entry.delta
        return sums


_ids = count(1)


def wire(
    kind: str,
    amount: int,
    *,
    at: str = "2026-11-21T10:00:00+09:00",
    payment: str = "pay-1",
    account: str = "acct-1",
    brand: str = "visa",
    mcc: str = "5411",
    country: str = "JP",
    event_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A payment event as published (unique id unless given)."""
    return event_dict(
        kind,
        event_id=event_id or f"e{next(_ids):05d}",
        occurred_at=at,
        brand=brand,
        payment_id=payment,
        account_id=account,
        amount=amount,
        merchant={"name": "SHOP", "mcc": mcc, "country": country},
        **extra,
    )


def grant_wire(
    points: int,
    *,
    at: str = "2026-11-21T10:00:00+09:00",
    account: str = "acct-1",
    reason: str = "adjustment",
    event_id: str | None = None,
) -> dict[str, Any]:
    """A ``points_grant`` as published."""
    return {
        "schema_version": 1,
        "event_id": event_id or f"g{next(_ids):05d}",
        "event_type": "points_grant",
        "occurred_at": at,
        "account_id": account,
        "points": points,
        "reason": reason,
        "source": "ops",
    }


def version(
    effective_from: str | None = None,
    *,
    visa: int = 100,
    quicpay: int = 50,
    excluded: Sequence[str] = (),
    cap: int | None = None,
    campaigns: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """A rule version document (DESIGN §4.6)."""
    return {
        "effective_from": effective_from,
        "rates_bp": {"visa": visa, "quicpay": quicpay},
        "excluded_mccs": list(excluded),
        "monthly_cap_points": cap,
        "campaigns": list(campaigns),
    }


def campaign(
    campaign_id: str, starts_at: str, ends_at: str, bonus_bp: int = 100, **scopes: list[str]
) -> dict[str, Any]:
    return {
        "id": campaign_id,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "bonus_bp": bonus_bp,
        **scopes,
    }


def rules_with(*versions: dict[str, Any]) -> Rules:
    return rules_of({"versions": list(versions)})


def facts(*documents: Mapping[str, Any], expired: bool = False) -> PaymentFacts:
    """The facts of payment ``pay-1`` after ``documents``."""
    (payment,) = payments_of(documents, ["pay-1"] if expired else [])
    return payment


def run(rules: Rules, *documents: Mapping[str, Any]) -> IncrementalLedger:
    """A fresh incremental ledger after applying ``documents`` in the given order."""
    ledger = IncrementalLedger(rules)
    for document in documents:
        ledger.apply(document)
    return ledger
