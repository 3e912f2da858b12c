"""One account's story from the event store: what ``points ledger explain`` reads.

The account's applied events are found through its entries (``ledger_entries`` is indexed
on ``account_id``; every applied event has an entry naming it, grants included), its
expired payments through its ``expiry`` entries. Bodies are the canonical JSON the inbox
keeps, so the story does not depend on which projection columns a schema version has.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from consumers.points.tables import KIND_EXPIRY, ledger_entries, ledger_events


@dataclass(frozen=True)
class AccountStory:
    """The canonical bodies of an account's applied events (each once, in entry order) and
    the ids of its payments the expiry job released."""

    bodies: list[str]
    expired: frozenset[str]


def account_story(connection: sa.Connection, account_id: str) -> AccountStory:
    n, e = ledger_entries.c, ledger_events.c
    events = (
        sa.select(e.event_id, e.body)
        .select_from(ledger_entries.join(ledger_events, e.event_id == n.event_id))
        .where(n.account_id == account_id)
        .order_by(n.id)
    )
    expired = sa.select(n.payment_id).where(n.account_id == account_id, n.kind == KIND_EXPIRY)
    bodies: dict[str, str] = {}
    for row in connection.execute(events):
        bodies.setdefault(row.event_id, row.body)
    return AccountStory(
        list(bodies.values()), frozenset(str(p) for p in connection.execute(expired).scalars())
    )
