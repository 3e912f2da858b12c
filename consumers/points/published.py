"""The rules a ledger computes with: those published in its database (DESIGN §4.6).

``PublishedRules`` is what every ledger transaction asks for its rules. It takes the rules
lock shared, reads the revision (the latest publication's id: one primary-key lookup) and
re-reads the versions only when the revision moved, so running workers pick up a
future-dated publication at their next batch, without a restart. Because the revision is
read *after* the lock, inside the transaction, a batch never computes with a rule set
older than one committed before it: a publication holds the lock exclusive until it
commits (``consumers.points.store.rule_rows``).

``POINTS_RULES_FILE`` is the seed of a new ledger: ``adopt_rules_file`` publishes it at
``points db upgrade`` / ``worker --migrate`` when nothing is published yet, and
``check_rules_file`` refuses to start a process whose file holds a version the database
does not (publish it with ``points rules publish`` instead). Later publications may add
versions the file lacks: the database is the truth, the file only its first page.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from consumers.points.publication import RulesConflict, plan_publication
from consumers.points.rules import InvalidRules, Rules, load_rules, with_default
from consumers.points.store import LedgerStore, LedgerUnitOfWork
from consumers.points.store.rule_rows import NewPublication, PublishedVersion

#: Where a ledger transaction gets its rules (called once per unit of work, first thing).
RulesSource = Callable[[LedgerUnitOfWork], Rules]


def rules_of(published: Sequence[PublishedVersion]) -> Rules:
    """The rule set of a ledger: the built-in default, then the published versions."""
    return with_default([p.version for p in published])


def fixed(rules: Rules) -> RulesSource:
    """A source that ignores the database (tests and benchmarks choosing their rules)."""
    return lambda _uow: rules


class PublishedRules:
    """The published rules, cached by revision; thread-safe (one per process)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._revision = -1
        self._rules = with_default([])

    def __call__(self, uow: LedgerUnitOfWork) -> Rules:
        """The rules in force for this transaction (takes the rules lock shared)."""
        revision = uow.lock_rules()
        with self._guard:
            if revision == self._revision:
                return self._rules
        rules = rules_of(uow.published_versions())
        with self._guard:
            if revision > self._revision:  # a slower thread never moves the cache back
                self._revision, self._rules = revision, rules
        return rules


def latest_rules(store: LedgerStore) -> Rules:
    """The published rules as of now, outside any batch (verify, explain, ``rules show``)."""
    return rules_of(store.published_versions())


class RulesFileNotPublished(InvalidRules):
    """``POINTS_RULES_FILE`` holds versions the ledger database has not published."""

    code = "rules_file_not_published"


def adopt_rules_file(store: LedgerStore, path: Path | None, now: datetime) -> int:
    """Publish the versions of ``path`` if nothing is published yet; returns how many.

    Called after migrating: a new ledger starts from the operator's rules file, recorded
    as a publication like any other (actor ``POINTS_RULES_FILE``).
    """
    if path is None:
        return 0
    rules = load_rules(path)
    with store.unit_of_work() as uow:
        uow.lock_rules(exclusive=True)
        if uow.published_versions():
            return 0
        backdated = any(v.effective_from is None or v.effective_from < now for v in rules.versions)
        reason = f"adopted {path.name} at migration"
        uow.append_publication(
            NewPublication(rules.versions, "POINTS_RULES_FILE", reason, backdated)
        )
        uow.commit()
    return len(rules.versions)


def check_rules_file(store: LedgerStore, path: Path | None) -> None:
    """Refuse to start when ``path`` (``POINTS_RULES_FILE``) disagrees with the database."""
    if path is None:
        return
    rules = load_rules(path)
    published = [p.version for p in store.published_versions()]
    try:
        plan = plan_publication(published, rules.versions)
    except RulesConflict as exc:
        raise RulesFileNotPublished(
            f"POINTS_RULES_FILE {path}: disagrees with the published rules: {exc}"
        ) from None
    if plan.added:
        raise RulesFileNotPublished(
            f"POINTS_RULES_FILE {path}: {len(plan.added)} version(s) not published in the "
            f"ledger database (first: {plan.added[0].label}); publish them with "
            "`points rules publish FILE --reason TEXT`, or unset POINTS_RULES_FILE"
        )
