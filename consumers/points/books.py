"""The books of one ledger transaction: locked payments and account-months, changed in memory.

A batch, the expiry job and a rules correction all change payments the same way: the
payment's new facts give its new ``Earning`` (§4.2); the earned deltas against the stored
earning land in one or two account-months (two when the anchor moved to another month);
each month's credited points are recomputed with its cap (§4.3) against what that month
has credited so far, and the difference is what the balance moves by. Credited points are
taken from the stored month rows, never re-derived, so the deltas always telescope to the
stored state: Σ entries of an account = its balance = Σ credited of its months + grants.

Every month a change can touch must have been locked by the unit of work first (the
payment's stored month, and the month of any event that may become its anchor): touching
any other month is a bug and raises. Except under rules without any cap (``additive``):
then a month credits exactly what it earns, a change's credited delta is its earned
delta whatever the month's total, and the month rows are added to like balances
(``month_deltas``), with no lock and no read — a batch under such rules locks no month.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from consumers.points.amounts import NO_POINTS, Points
from consumers.points.earning import (
    Earning,
    MonthRef,
    credited,
    earned,
    earned_changes,
    earning,
)
from consumers.points.facts import PaymentFacts
from consumers.points.months import MonthKey
from consumers.points.rules import Rules
from consumers.points.store.records import MonthRecord, PaymentRecord


@dataclass(frozen=True, slots=True)
class Change:
    """What one change of a payment credited, and in which month the payment now counts."""

    record: PaymentRecord
    credited: Points
    month: MonthKey | None


@dataclass
class Books:
    """Payments and account-months locked by one unit of work, and what changed."""

    rules: Rules
    payments: dict[str, PaymentRecord] = field(default_factory=dict)
    months: dict[MonthRef, MonthRecord] = field(default_factory=dict)
    balances: dict[str, Points] = field(default_factory=dict)
    changed_payments: set[str] = field(default_factory=set)
    changed_months: set[MonthRef] = field(default_factory=set)
    #: Caps by month, looked up once per transaction (a version search per month).
    caps: dict[MonthKey, int | None] = field(default_factory=dict)
    #: Months are added to, not settled (only under rules without a cap: ``__post_init__``).
    additive: bool = False
    #: Earned (= credited) deltas per account-month, in additive mode.
    month_deltas: dict[MonthRef, Points] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.additive and self.rules.has_cap:
            raise ValueError("account-months under a cap are settled, never added to")

    def lock(self, payments: dict[str, PaymentRecord], months: dict[MonthRef, MonthRecord]) -> None:
        """Add rows a unit of work locked; rows already here keep their in-memory state."""
        for payment_id, record in payments.items():
            self.payments.setdefault(payment_id, record)
        for ref, month in months.items():
            self.months.setdefault(ref, month)

    def change(self, facts: PaymentFacts) -> Change:
        """Replace a locked payment's facts; re-settle the months its earning moves in."""
        before = self.payments[facts.payment_id]
        after = self._earning(before, facts)
        moved = NO_POINTS
        if after is not None and before.month in (None, after.ref.month):
            # The usual cases (a payment's first event, or the anchor stayed in its month):
            # one month, no dict. Without a month the stored earned points count nowhere.
            earned_delta = after.earned - (before.earned if before.month else NO_POINTS)
            if earned_delta != NO_POINTS:
                moved = self._settle(after.ref, earned_delta)
        else:
            for ref, earned_delta in sorted(earned_changes(before.earning, after).items()):
                moved += self._settle(ref, earned_delta)
        record = PaymentRecord.of(facts, after)
        self.payments[facts.payment_id] = record
        self.changed_payments.add(facts.payment_id)
        self.credit(facts.account_id, moved)
        return Change(record, moved, record.month)

    def _earning(self, before: PaymentRecord, facts: PaymentFacts) -> Earning | None:
        """The payment's new earning. A payment changed earlier in this transaction whose
        anchor stayed the same object (``apply_event`` keeps it) has the rate and month
        computed then, under these very rules: only its earned points are new. About half
        of a batch's events meet their payment a second time (profiled at batch 100)."""
        rate = before.rate
        if (
            rate is not None
            and before.month is not None
            and facts.anchor is before.facts.anchor
            and facts.payment_id in self.changed_payments
        ):
            ref = MonthRef(facts.account_id, before.month)
            return Earning(facts.payment_id, ref, rate, earned(facts, rate.rate_bp))
        return earning(facts, self.rules)

    def recap(self, ref: MonthRef) -> Points:
        """Re-settle a locked month under its cap with no earned change (a rules correction
        that changed the cap); returns what its credited points moved by."""
        moved = self._settle(ref, NO_POINTS)
        self.credit(ref.account_id, moved)
        return moved

    def credit(self, account_id: str, delta: Points) -> None:
        """Add to an account's balance delta (a grant, or what a change credited)."""
        self.balances[account_id] = self.balances.get(account_id, NO_POINTS) + delta

    def _settle(self, ref: MonthRef, earned_delta: Points) -> Points:
        if self.additive:
            self.month_deltas[ref] = self.month_deltas.get(ref, NO_POINTS) + earned_delta
            return earned_delta
        month = self.months.get(ref)
        if month is None:
            raise LookupError(f"account-month {ref} changed without being locked")
        earned = month.earned + earned_delta
        if ref.month not in self.caps:
            self.caps[ref.month] = self.rules.cap_of(ref.month)
        now = credited(earned, self.caps[ref.month])
        self.months[ref] = MonthRecord(ref, earned, now)
        self.changed_months.add(ref)
        return now - month.credited

    def changed(self) -> tuple[list[PaymentRecord], list[MonthRecord]]:
        """The payment and month rows to write."""
        return (
            [self.payments[p] for p in sorted(self.changed_payments)],
            [self.months[m] for m in sorted(self.changed_months)],
        )
