"""``points rules publish``: append rule versions to the ledger in one transaction (§4.6).

The publication takes the rules lock exclusive, so it waits for the batches computing with
the old rules and every batch after it reads the new revision. ``plan_publication`` decides
what is added (the same version twice is a no-op; another version at a published
``effective_from`` is refused). A version taking effect before ``now + lead`` is
*backdated*: refused unless the caller allows it, because payments already applied may
earn differently under it; an allowed backdated publication recomputes what it changes
in the same transaction (``consumers.points.backdate``), so the ledger never shows a state that
mixes the two rule sets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from consumers.points.backdate import recompute_changes
from consumers.points.publication import backdated, plan_publication
from consumers.points.rules import InvalidRules, Rules, RuleVersion, with_default
from consumers.points.store import LedgerStore
from consumers.points.store.rule_rows import NewPublication


class BackdateRefused(InvalidRules):
    """A version would take effect before ``now + POINTS_RULES_LEAD`` without ``--backdate``."""

    code = "rules_backdated"


@dataclass(frozen=True)
class Published:
    """What a publication did."""

    added: tuple[RuleVersion, ...]
    unchanged: tuple[RuleVersion, ...]
    backdated: tuple[RuleVersion, ...]
    #: The rules revision after it (unchanged when nothing was added).
    revision: int
    corrected_payments: int = 0


def publish_rules(
    store: LedgerStore,
    incoming: Rules,
    *,
    actor: str,
    reason: str,
    now: datetime,
    lead: timedelta,
    allow_backdate: bool = False,
) -> Published:
    """Append ``incoming``'s new versions (see the module docstring)."""
    with store.unit_of_work() as uow:
        revision = uow.lock_rules(exclusive=True)
        published = [p.version for p in uow.published_versions()]
        plan = plan_publication(published, incoming.versions)
        early = backdated(plan.added, now + lead)
        if early and not allow_backdate:
            raise BackdateRefused(
                f"{early[0].label} takes effect before now + POINTS_RULES_LEAD "
                f"({(now + lead).isoformat()}): payments already applied may change; "
                "publish it with --backdate to recompute them"
            )
        if not plan.added:
            return Published((), plan.unchanged, (), revision)
        revision = uow.append_publication(
            NewPublication(plan.added, actor, reason, backdated=bool(early))
        )
        corrected = 0
        if early:
            before, after = with_default(published), with_default([*published, *plan.added])
            corrected = recompute_changes(uow, before, after)
        uow.commit()
    return Published(plan.added, plan.unchanged, early, revision, corrected)
