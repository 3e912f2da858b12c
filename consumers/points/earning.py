"""Points of payments, account-months and balances: DESIGN §4.2–4.5 v2, in integers.

Per payment (§4.2): the version in force at the anchor gives the rate (0 if the anchor's
MCC is excluded, else the brand's base rate plus the bonus of every matching campaign),
and ``earned`` = ``pts(cleared − returned)`` confirmed, ``pts(authorized − reversed −
cleared)`` provisional (0 once final or expired).

Per account-month (§4.3): the payment counts in the JST month of its anchor, where
``E_c``/``E_p`` are the sums of its payments' earned points and

    credited confirmed   = min(E_c, cap)
    credited provisional = min(E_p, cap − credited confirmed)

Corner cases, all implied by DESIGN: ``pts`` floors ``max(0, x)``, so every payment's
earned points and hence ``E_c``, ``E_p`` are ≥ 0; the cap is ≥ 0 or ``None`` (no cap:
credited = earned). So ``0 ≤ credited confirmed ≤ cap``, ``cap − credited confirmed ≥ 0``,
``credited provisional ≥ 0`` and their sum never exceeds the cap (cap 0 credits nothing).
A refund lowers credited confirmed only when ``E_c`` falls below the cap, and then it can
*raise* credited provisional (it frees room under the cap). Grants (§4.4) bypass all of it.

Incremental view for the ledger (phase 2): ``earned_changes`` turns one payment's
before/after ``Earning`` into earned deltas per account-month (two months when the anchor
moves), and ``settle`` applies them to the stored month totals, returning the new totals
and the credited delta per month. Deltas telescope: the entries written for a sequence of
events sum to the credited points recomputed from scratch, whatever the order.

How the ledger transaction should use this (phase 2 design note; a batch, one transaction):

1. Rules: take the rules lock *shared* (PostgreSQL ``pg_advisory_xact_lock_shared``; SQLite
   write transactions are exclusive anyway) and reload ``with_default(published)`` if the
   published revision moved. A publication takes it exclusive, so no event is applied under
   a rule set older than one committed before it. Expiry takes it shared too.
2. Payments: lock/insert as today (payment_id order), fold each event into its facts.
3. Months: the batch's ``earned_changes`` are pure once the payments are read, so their
   ``MonthRef`` set is known before touching month rows: lock (or insert-then-lock) those
   rows in one statement, sorted by (account_id, month). Global lock order: rules →
   payments → account-months → balances, for batches, expiry and publications alike.
4. Per event, in batch order: ``settle`` its changes against the in-memory month totals
   (updated after each event) and write one entry per touched account-month with
   ``credited_deltas[ref]`` (a ``month`` column on entries lets verify check Σ entries per
   account-month = credited; an applied event touching no month gets one zero entry so
   "every applied event has an entry" stays checkable). The balance delta of the event is
   ``credited_delta``; a ``points_grant`` touches no month: entry (kind ``grant``) and
   balance delta ``Points(points, 0)`` only.
5. Write month rows (cap, earned, credited), payment rows (sums, anchor incl. country,
   month, rate, campaigns, earned) and balances (account order) last. A month a payment's
   anchor left keeps a row of zeros: verify must treat "no row" and "zeros" alike.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import NamedTuple

from consumers.points.amounts import Points, pts
from consumers.points.facts import Grant, PaymentFacts
from consumers.points.months import MonthKey, account_month
from consumers.points.rules import Rate, Rules


def payment_rate(facts: PaymentFacts, rules: Rules) -> Rate:
    """The rate and applied campaigns of a payment, decided by its anchor alone."""
    anchor = facts.anchor
    if anchor is None:
        return Rate(0)
    version = rules.for_anchor(anchor.occurred_at)
    return version.rate(facts.brand, anchor.mcc, anchor.country, anchor.occurred_at)


def earned(facts: PaymentFacts, rate_bp: int) -> Points:
    """Earned (uncapped) confirmed and provisional points of one payment at ``rate_bp``."""
    confirmed = pts(facts.cleared - facts.returned, rate_bp)
    if facts.final or facts.expired:
        return Points(confirmed, 0)
    return Points(confirmed, pts(facts.authorized - facts.reversed - facts.cleared, rate_bp))


class MonthRef(NamedTuple):
    """An account-month; sorts by (account, month), the order to lock month rows in.

    A named tuple: a batch hashes and sorts its month refs hundreds of times, and a
    tuple's hash and comparisons run in C (a dataclass's were 4 % of a batch's Python
    time at batch 100, profiled).
    """

    account_id: str
    month: MonthKey


@dataclass(frozen=True, slots=True)
class Earning:
    """What one payment contributes to its account-month, and why."""

    payment_id: str
    ref: MonthRef
    rate: Rate
    earned: Points


def earning(facts: PaymentFacts, rules: Rules) -> Earning | None:
    """The payment's contribution; ``None`` for a payment without events."""
    if facts.anchor is None:
        return None
    rate = payment_rate(facts, rules)
    ref = MonthRef(facts.account_id, account_month(facts.anchor.occurred_at))
    return Earning(facts.payment_id, ref, rate, earned(facts, rate.rate_bp))


def credited(earned_points: Points, cap: int | None) -> Points:
    """§4.3: credited confirmed = min(E_c, cap); provisional = min(E_p, cap − that)."""
    if earned_points.confirmed < 0 or earned_points.provisional < 0:
        raise ValueError(f"earned points of a month are never negative: {earned_points}")
    if cap is None:
        return earned_points
    confirmed = min(earned_points.confirmed, cap)
    return Points(confirmed, min(earned_points.provisional, cap - confirmed))


@dataclass(frozen=True, slots=True)
class MonthTotals:
    """An account-month's cap and earned sums; credited points follow from them."""

    cap: int | None
    earned: Points = field(default_factory=Points)

    @property
    def credited(self) -> Points:
        return credited(self.earned, self.cap)

    def shifted(self, delta: Points) -> MonthTotals:
        return replace(self, earned=self.earned + delta)


def earned_changes(before: Earning | None, after: Earning | None) -> dict[MonthRef, Points]:
    """Earned deltas per account-month when a payment's earning goes from before to after.

    When a late, earlier event moves the anchor into another month, the old month loses
    the old earned points and the new month gains the new ones. Zero deltas are dropped.
    """
    changes: dict[MonthRef, Points] = {}
    if before is not None:
        changes[before.ref] = Points() - before.earned
    if after is not None:
        changes[after.ref] = changes.get(after.ref, Points()) + after.earned
    return {ref: delta for ref, delta in changes.items() if delta != Points()}


@dataclass(frozen=True)
class MonthUpdate:
    """New totals of the touched months and what each month's credited points moved by."""

    months: dict[MonthRef, MonthTotals]
    credited_deltas: dict[MonthRef, Points]

    @property
    def credited_delta(self) -> Points:
        """The balance delta (all touched months belong to one payment's account)."""
        return sum(self.credited_deltas.values(), Points())


def settle(
    months: Mapping[MonthRef, MonthTotals], changes: Mapping[MonthRef, Points], rules: Rules
) -> MonthUpdate:
    """Apply earned deltas to stored month totals (a missing month starts at zero with the
    cap of its first instant) and report the credited delta of each touched month."""
    totals: dict[MonthRef, MonthTotals] = {}
    deltas: dict[MonthRef, Points] = {}
    for ref in sorted(changes):
        before = months.get(ref) or MonthTotals(rules.cap_of(ref.month))
        after = before.shifted(changes[ref])
        totals[ref] = after
        deltas[ref] = after.credited - before.credited
    return MonthUpdate(totals, deltas)


def month_totals(earnings: Iterable[Earning], rules: Rules) -> dict[MonthRef, MonthTotals]:
    """Account-months of payments' earnings: the caps and the sums of earned points."""
    sums: dict[MonthRef, Points] = defaultdict(Points)
    for contribution in earnings:
        sums[contribution.ref] = sums[contribution.ref] + contribution.earned
    return {ref: MonthTotals(rules.cap_of(ref.month), sums[ref]) for ref in sorted(sums)}


def account_months(payments: Iterable[PaymentFacts], rules: Rules) -> dict[MonthRef, MonthTotals]:
    """Every account-month from scratch (what ``verify`` compares month rows with)."""
    earnings = (earning(facts, rules) for facts in payments)
    return month_totals((e for e in earnings if e is not None), rules)


def balance(months: Iterable[MonthTotals], grants: Iterable[Grant]) -> Points:
    """§4.4: Σ months' credited points, plus Σ grants as confirmed (may go negative)."""
    total = sum((m.credited for m in months), Points())
    return total + Points(sum(g.points for g in grants), 0)


def balances(
    payments: Iterable[PaymentFacts], grants: Iterable[Grant], rules: Rules
) -> dict[str, Points]:
    """Every account's balance from scratch, by account id."""
    per_account: dict[str, list[MonthTotals]] = defaultdict(list)
    for ref, totals in account_months(payments, rules).items():
        per_account[ref.account_id].append(totals)
    grants_of: dict[str, list[Grant]] = defaultdict(list)
    for grant in grants:
        grants_of[grant.account_id].append(grant)
    accounts = sorted(set(per_account) | set(grants_of))
    return {a: balance(per_account[a], grants_of[a]) for a in accounts}


def is_expirable(facts: PaymentFacts, rules: Rules, cutoff: datetime) -> bool:
    """§4.5: not final, not expired, earned provisional > 0, and the latest *approved*
    authorization older than ``cutoff`` (a declined one never restarts the clock)."""
    if facts.final or facts.expired or facts.latest_authorized_at is None:
        return False
    if facts.latest_authorized_at >= cutoff:
        return False
    return earned(facts, payment_rate(facts, rules).rate_bp).provisional > 0
