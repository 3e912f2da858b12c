"""``points ledger explain``: why an account has the points it has (DESIGN §6), pure.

Given an account's payment facts, its grants and the rules, assemble per account-month the
cap, earned and credited points and every payment with its rate and the campaigns that
applied; then every grant; and the balance. The balance equals the months' credited points
plus the grants (``Explanation.reconciles``), which is what lets customer support answer
"why do I have N points" from the ledger alone.

``payments[].confirmed/provisional`` are earned (uncapped) points; a month's ``credited``
is what reached the balance. With ``month`` given, only that account-month and the grants
whose ``occurred_at`` falls in it (JST) are listed; the balance stays the account's.
Instants are written as RFC 3339 in UTC, as the other ``ledger`` commands write them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from consumers.points.amounts import Points
from consumers.points.earning import Earning, MonthTotals, balance, earning, month_totals
from consumers.points.facts import Grant, PaymentFacts
from consumers.points.months import MonthKey, account_month
from consumers.points.rules import Rules


@dataclass(frozen=True, slots=True)
class MonthLine:
    """One account-month: cap, earned and credited points, and its payments."""

    month: MonthKey
    totals: MonthTotals
    payments: tuple[Earning, ...]

    def as_json(self) -> dict[str, Any]:
        credited = self.totals.credited
        return {
            "month": self.month,
            "cap": self.totals.cap,
            "earned": _points(self.totals.earned),
            "credited": _points(credited),
            "payments": [
                {
                    "payment_id": p.payment_id,
                    "rate_bp": p.rate.rate_bp,
                    "campaigns": list(p.rate.campaigns),
                    "confirmed": p.earned.confirmed,
                    "provisional": p.earned.provisional,
                }
                for p in self.payments
            ],
        }


@dataclass(frozen=True, slots=True)
class Explanation:
    account_id: str
    balance: Points
    months: tuple[MonthLine, ...]
    grants: tuple[Grant, ...]

    @property
    def reconciles(self) -> bool:
        """Balance = Σ months' credited + Σ grants (true of an unfiltered explanation)."""
        listed = sum((m.totals.credited for m in self.months), Points())
        return self.balance == listed + Points(sum(g.points for g in self.grants), 0)

    def as_json(self) -> dict[str, Any]:
        """The ``points ledger explain --json`` document (DESIGN §6)."""
        return {
            "account_id": self.account_id,
            "balance": _points(self.balance),
            "months": [m.as_json() for m in self.months],
            "grants": [
                {
                    "event_id": g.event_id,
                    "occurred_at": g.occurred_at.astimezone(UTC).isoformat(),
                    "points": g.points,
                    "reason": str(g.reason),
                    "source": g.source,
                }
                for g in self.grants
            ],
        }


def _points(points: Points) -> dict[str, int]:
    return {"confirmed": points.confirmed, "provisional": points.provisional}


def explain(
    account_id: str,
    payments: Iterable[PaymentFacts],
    grants: Iterable[Grant],
    rules: Rules,
    month: MonthKey | None = None,
) -> Explanation:
    """The explanation of ``account_id`` (payments and grants of other accounts ignored).

    Months ascend; payments in a month by (anchor instant, payment id), which reads as the
    story of the month; grants by (occurred_at, event_id).
    """
    ours = sorted(
        (p for p in payments if p.account_id == account_id and p.anchor is not None),
        key=_story_order,
    )
    our_grants = sorted(
        (g for g in grants if g.account_id == account_id),
        key=lambda g: (g.occurred_at, g.event_id),
    )
    earnings = [e for e in (earning(facts, rules) for facts in ours) if e is not None]
    months = month_totals(earnings, rules)
    by_month: dict[MonthKey, list[Earning]] = {}
    for contribution in earnings:
        by_month.setdefault(contribution.ref.month, []).append(contribution)
    month_lines = tuple(
        MonthLine(ref.month, totals, tuple(by_month[ref.month]))
        for ref, totals in months.items()
        if month is None or ref.month == month
    )
    shown_grants = tuple(
        g for g in our_grants if month is None or account_month(g.occurred_at) == month
    )
    return Explanation(account_id, balance(months.values(), our_grants), month_lines, shown_grants)


def _story_order(facts: PaymentFacts) -> tuple[datetime, str]:
    assert facts.anchor is not None
    return (facts.anchor.occurred_at, facts.payment_id)
