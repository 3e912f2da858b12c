"""A backdated rules publication: recompute what it changes, in its own transaction (§4.6).

Called by ``publish_rules`` with the rules lock held exclusive, after the new versions are
appended. ``changed_windows(before, after)`` gives the instants whose version changed; the
payments anchored in a window earn differently (their facts are unchanged: the anchor,
hence the month, stays), and the months whose first instant lies in a window may have
another cap. Those payments are locked, then their months and the re-capped months (the
ledger's global lock order), each payment is re-earned under the new rules and each
month re-settled under its cap by the same ``Books`` a batch uses, and one ``rules`` entry
per account-month records what its credited points moved by. Afterwards the ledger is what
DESIGN §4.1–4.4 give under the new rule set, so ``verify`` is clean.
"""

from __future__ import annotations

from consumers.points.amounts import Points
from consumers.points.books import Books
from consumers.points.earning import MonthRef
from consumers.points.publication import Window, changed_windows
from consumers.points.rules import Rules
from consumers.points.store import LedgerUnitOfWork
from consumers.points.store.records import Entry, EntryKind, stored_months


def recompute_changes(uow: LedgerUnitOfWork, before: Rules, after: Rules) -> int:
    """Correct the ledger from ``before`` to ``after`` rules; returns the payments rewritten."""
    windows = changed_windows(before, after)
    if not windows:
        return 0
    payment_ids = sorted({p for w in windows for p in uow.anchored_between(w.start, w.end)})
    locked = uow.lock_payments(payment_ids)
    recapped = sorted({ref for w in windows for ref in _capped_months(uow, w)})
    books = Books(after)
    books.lock(locked, uow.lock_months(sorted({*stored_months(locked), *recapped})))
    credited_before = {ref: month.credited for ref, month in books.months.items()}
    for record in locked.values():
        books.change(record.facts)
    for ref in recapped:
        books.recap(ref)
    payments, months = books.changed()
    deltas = {m.ref: m.credited - credited_before[m.ref] for m in months}
    uow.append(
        [
            Entry(EntryKind.RULES, ref.account_id, delta, month=ref.month)
            for ref, delta in deltas.items()
            if delta != Points()
        ]
    )
    uow.save_payments(payments)
    uow.save_months(months)
    uow.add_to_balances(books.balances)
    return len(payments)


def _capped_months(uow: LedgerUnitOfWork, window: Window) -> list[MonthRef]:
    """Stored months whose first instant is in ``window`` (their cap may have changed)."""
    first, last = window.month_keys()
    return [ref for ref in uow.months_between(first, last) if window.holds_month_start(ref.month)]
