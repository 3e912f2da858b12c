"""Publishing rule versions: what a publication adds, and what a backdated one changes.

Pure decisions behind ``points rules publish`` (DESIGN §4.6); the store and the CLI of
phase 2 call them inside the publishing transaction.

- ``plan_publication``: the same version twice is a no-op, another version at the same
  ``effective_from`` is refused (identity = ``version_digest``, so spelling does not
  matter: offsets, list order, an absent list versus an empty one).
- ``backdated``: the added versions that take effect before ``now + POINTS_RULES_LEAD``
  (refused without ``--backdate``).
- ``changed_windows``: the instants whose version changes between two rule sets. A payment
  must be recomputed iff its anchor lies in a window; an account-month's cap changes only
  if its first instant lies in one; the months to recompute are those two sets, both
  within ``Window.month_keys``. A new version at t changes ``[t, next effective_from)``,
  and also everything before t when it becomes the earliest version (§4.2: "the earliest
  version if none"), which ``with_default`` prevents for ledgers by keeping the built-in
  default since forever. Windows are exact: re-publishing a version identical in content
  to the one it follows changes nothing.
- ``recompute``: the payments' new earnings and the months' new totals and credited deltas.

A backdated publication (phase 2 design note; one transaction, workers keep running):
take the rules lock exclusive (batches hold it shared, see ``consumers.points.earning``);
read the published versions; ``plan_publication``; refuse ``backdated`` versions without
``--backdate``; ``before = with_default(published)``, ``after = with_default(published +
added)``, ``windows = changed_windows(before, after)``; append the versions and bump the
revision; lock the payments anchored in a window (payment_id order; index on the anchor
instant) and the month rows with ``Window.meets_month`` ((account_id, month) order);
``recompute``; update those payment and month rows, append one ``rules`` entry per
account-month whose credited delta is not zero, add Σ deltas per account to the balances.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from consumers.points.amounts import Points
from consumers.points.earning import (
    Earning,
    MonthRef,
    MonthTotals,
    MonthUpdate,
    earned_changes,
    earning,
)
from consumers.points.facts import PaymentFacts
from consumers.points.months import MonthKey, account_month, month_start
from consumers.points.rules import (
    InvalidRules,
    Rules,
    RuleVersion,
    rules_from_versions,
    version_digest,
    version_document,
)


class RulesConflict(InvalidRules):
    """A publication holds another version at an ``effective_from`` already published."""

    code = "rules_conflict"


@dataclass(frozen=True)
class Publication:
    """What a publication does: versions to append, versions already there, the result."""

    added: tuple[RuleVersion, ...]
    unchanged: tuple[RuleVersion, ...]
    rules: Rules


def plan_publication(
    published: Sequence[RuleVersion], incoming: Sequence[RuleVersion]
) -> Publication:
    """Classify ``incoming`` against ``published``; ``rules`` is the union of both."""
    by_start = {v.effective_from: v for v in published}
    added: list[RuleVersion] = []
    unchanged: list[RuleVersion] = []
    for version in incoming:
        known = by_start.get(version.effective_from)
        if known is None:
            added.append(version)
        elif version_digest(known) == version_digest(version):
            unchanged.append(version)
        else:
            raise RulesConflict(
                f"{version.label}: another version is already published at this "
                f"effective_from (published {version_digest(known)[:12]}, "
                f"yours {version_digest(version)[:12]})"
            )
    return Publication(tuple(added), tuple(unchanged), rules_from_versions([*published, *added]))


def backdated(added: Iterable[RuleVersion], not_before: datetime) -> tuple[RuleVersion, ...]:
    """Versions taking effect before ``not_before`` (an open-ended one always does)."""
    return tuple(v for v in added if v.effective_from is None or v.effective_from < not_before)


@dataclass(frozen=True, slots=True)
class Window:
    """The instants ``start ≤ t < end``; ``None`` is unbounded on that side."""

    start: datetime | None
    end: datetime | None

    def contains(self, instant: datetime) -> bool:
        return (self.start is None or self.start <= instant) and (
            self.end is None or instant < self.end
        )

    def holds_month_start(self, month: MonthKey) -> bool:
        """Whether the month's cap may change: its first instant is in the window."""
        return self.contains(month_start(month))

    def meets_month(self, month: MonthKey) -> bool:
        """Whether ``month`` is within ``month_keys`` (its rows may need recomputing)."""
        first, last = self.month_keys()
        return (first is None or first <= month) and (last is None or month <= last)

    def month_keys(self) -> tuple[MonthKey | None, MonthKey | None]:
        """First and last month (inclusive) meeting the window; ``None`` is unbounded.

        Every payment anchored in the window and every month whose first instant is in
        it belongs to a month in this range: the range to scan for month rows.
        """
        first = None if self.start is None else account_month(self.start)
        last = None if self.end is None else account_month(self.end - timedelta(microseconds=1))
        return first, last


def _breakpoints(*rule_sets: Rules) -> list[datetime]:
    starts = {v.effective_from for rules in rule_sets for v in rules.versions}
    return sorted(s for s in starts if s is not None)


def _terms(version: RuleVersion) -> dict[str, Any]:
    """What a version decides, without when it starts to decide it."""
    document = version_document(version)
    del document["effective_from"]
    return document


def _probe(segment: Window) -> datetime:
    """An instant inside ``segment`` (both selections are constant over a segment)."""
    if segment.start is not None:
        return segment.start
    if segment.end is not None:
        return segment.end - timedelta(microseconds=1)
    return datetime(2000, 1, 1, tzinfo=UTC)  # no dated version at all: any instant


def changed_windows(before: Rules, after: Rules) -> tuple[Window, ...]:
    """The maximal windows where ``before`` and ``after`` decide differently."""
    points = _breakpoints(before, after)
    segments = [Window(None, points[0] if points else None)]
    segments += [
        Window(start, points[i + 1] if i + 1 < len(points) else None)
        for i, start in enumerate(points)
    ]
    changed: list[Window] = []
    for segment in segments:
        probe = _probe(segment)
        if _terms(before.for_anchor(probe)) == _terms(after.for_anchor(probe)):
            continue
        if changed and changed[-1].end == segment.start:
            changed[-1] = Window(changed[-1].start, segment.end)
        else:
            changed.append(segment)
    return tuple(changed)


@dataclass(frozen=True)
class Recomputation:
    """What a backdated publication changes: the payments' new earnings (their projection
    rows) and, per account-month, the new totals and the credited delta (one ``rules``
    correction entry each; their sum per account is the balance delta)."""

    earnings: dict[str, Earning]
    months: MonthUpdate


def recompute(
    payments: Iterable[PaymentFacts],
    months: Mapping[MonthRef, MonthTotals],
    before: Rules,
    after: Rules,
) -> Recomputation:
    """Move stored month totals from ``before`` to ``after`` rules.

    ``payments``: at least every payment whose anchor lies in a ``changed_windows`` window
    (others give zero deltas). ``months``: the stored totals of at least every month those
    payments belong to and every month whose first instant lies in a window (its cap may
    change); a month missing here starts at zero. Each month is re-capped under ``after``.
    """
    earnings: dict[str, Earning] = {}
    changes: dict[MonthRef, Points] = {}
    for facts in payments:
        new = earning(facts, after)
        for ref, delta in earned_changes(earning(facts, before), new).items():
            changes[ref] = changes.get(ref, Points()) + delta
        if new is not None:
            earnings[facts.payment_id] = new
    totals: dict[MonthRef, MonthTotals] = {}
    deltas: dict[MonthRef, Points] = {}
    for ref in sorted(set(months) | set(changes)):
        old = months.get(ref) or MonthTotals(before.cap_of(ref.month))
        new_totals = MonthTotals(after.cap_of(ref.month), old.earned + changes.get(ref, Points()))
        totals[ref] = new_totals
        deltas[ref] = new_totals.credited - old.credited
    return Recomputation(earnings, MonthUpdate(totals, deltas))
