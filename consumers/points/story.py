"""An account's explanation from its stored events (``points ledger explain``, DESIGN §6).

The event store holds every applied event as canonical JSON; folding an account's events
per payment (``facts.fold``) and reading its grants gives exactly the inputs of
``explain.explain``, under the rules published now. Nothing here trusts a projection, so
the explanation is what ``verify`` would recompute: if the stored balance differs, the
ledger has drifted and the command says so.

``explain --month M`` (``explain_month_story``) is bounded by the month instead: reading
and folding the account's whole story costs its lifetime (1-2 s for the heaviest account
of a 5 M-event ledger) to show one month. DESIGN §4.3-4.4 make the month separable: a
month's earned and credited points depend only on the payments anchored in it and the
rules, and the balance is the sum of the months' credited points plus the grants. So month
M is recomputed from the events of the payments the ledger counts in M (and every grant,
few, whose sum the balance needs), and every other month's credited points are taken from
its stored ``ledger_months`` row. ``balance`` keeps its meaning, and the drift check (stored
balance against the explanation) still checks month M's recomputation and the grants; the
other months' rows are trusted here, as ``ledger verify`` checks them. For a ledger that
verify finds clean, the output equals the month's slice of the whole explanation.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import replace
from datetime import datetime
from typing import Any

from consumers.points.amounts import Points
from consumers.points.explain import Explanation, explain
from consumers.points.facts import EventFacts, Grant, PaymentEventType, fold
from consumers.points.months import MonthKey
from consumers.points.rules import Rules
from consumers.points.store.story_rows import AccountStory, MonthStory
from schemas.events import Brand, GrantReason


def explain_story(
    account_id: str, story: AccountStory, rules: Rules, month: MonthKey | None = None
) -> Explanation:
    """The explanation of ``account_id`` from its stored events (see ``explain.explain``)."""
    events: dict[str, list[EventFacts]] = defaultdict(list)
    grants: list[Grant] = []
    for body in story.bodies:
        document = json.loads(body)
        match document["event_type"]:
            case "points_grant":
                grants.append(_grant(document))
            case payment_type:
                facts = _payment_event(document, PaymentEventType(payment_type))
                events[facts.payment_id].append(facts)
    payments = [
        fold(payment_id, payment_events, expired=payment_id in story.expired)
        for payment_id, payment_events in events.items()
    ]
    return explain(account_id, payments, grants, rules, month)


def explain_month_story(account_id: str, story: MonthStory, rules: Rules) -> Explanation:
    """The explanation of ``account_id`` for ``story.month``: that month recomputed from
    its events, its grants, and the balance = its credited points + the credited points
    stored for the other months + every grant (see the module docstring)."""
    within = explain_story(account_id, story.events, rules, story.month)
    stored = sum(story.other_months.values(), Points())
    return replace(within, balance=within.balance + stored)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _payment_event(document: dict[str, Any], event_type: PaymentEventType) -> EventFacts:
    merchant = document["merchant"]
    return EventFacts(
        event_id=document["event_id"],
        event_type=event_type,
        payment_id=document["payment_id"],
        account_id=document["account_id"],
        brand=Brand(document["brand"]),
        occurred_at=_instant(document["occurred_at"]),
        amount=int(document["amount"]),
        mcc=merchant["mcc"],
        country=merchant["country"],
        approved=bool(document.get("approved", True)),
        final=bool(document.get("final", False)),
    )


def _grant(document: dict[str, Any]) -> Grant:
    return Grant(
        event_id=document["event_id"],
        account_id=document["account_id"],
        occurred_at=_instant(document["occurred_at"]),
        points=int(document["points"]),
        reason=GrantReason(document["reason"]),
        source=document["source"],
    )
