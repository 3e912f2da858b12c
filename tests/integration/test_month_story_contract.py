"""``LedgerStore.month_story`` (what ``explain --month`` reads), one contract for every
store: the in-memory fake the unit tests use, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from consumers.points.amounts import Points
from consumers.points.expiry import expire
from consumers.points.intake import stored_event
from consumers.points.ledger import PointsLedger
from consumers.points.rules import DEFAULT_RULES
from consumers.points.store import LedgerStore
from schemas.events import Event
from tests.support.factories import make_event, make_grant
from tests.support.stores import every_store  # noqa: F401 (pytest fixture)

STORY: list[Event] = [
    make_event(event_id="nov-a", payment_id="nov", occurred_at="2026-11-10T10:00:00+09:00"),
    make_event(
        "clearing",
        event_id="nov-c",
        payment_id="nov",
        final=True,
        occurred_at="2026-11-12T10:00:00+09:00",
    ),
    make_event(event_id="open-a", payment_id="open", occurred_at="2026-11-20T10:00:00+09:00"),
    make_event(event_id="dec-a", payment_id="dec", occurred_at="2026-12-03T10:00:00+09:00"),
    make_event(
        event_id="other-a",
        payment_id="other",
        account_id="acct-2",
        occurred_at="2026-11-10T10:00:00+09:00",
    ),
    make_grant(event_id="g-nov", points=5, occurred_at="2026-11-25T10:00:00+09:00"),
    make_grant(event_id="g-dec", points=-2, occurred_at="2026-12-25T10:00:00+09:00"),
    make_grant(event_id="g-other", account_id="acct-2", occurred_at="2026-11-25T10:00:00+09:00"),
]


def body(event_id: str) -> str:
    [event] = [e for e in STORY if e.event_id == event_id]
    return stored_event(event).body


def test_a_month_story_holds_the_month_s_payment_events_every_grant_and_other_months(
    store: LedgerStore,
) -> None:
    """November's story: the events of its payments, every grant of the account (whatever
    its month), the expired among its payments, and December's stored credited points;
    nothing of another account."""
    PointsLedger(store, DEFAULT_RULES).handle_batch(STORY)
    released = expire(store, DEFAULT_RULES, now=datetime(2027, 2, 1, tzinfo=UTC))
    assert sorted(e.payment_id for e in released) == ["dec", "open", "other"]
    story = store.month_story("acct-1", "2026-11")
    wanted = ["g-dec", "g-nov", "nov-a", "nov-c", "open-a"]
    assert sorted(story.events.bodies) == sorted(body(i) for i in wanted)
    assert story.events.expired == frozenset({"open"})
    assert (story.month, story.other_months) == ("2026-11", {"2026-12": Points(0, 0)})


def test_a_month_without_payments_still_holds_the_grants_and_the_stored_months(
    store: LedgerStore,
) -> None:
    """January (nothing in it): every grant, and both stored months' credited points."""
    PointsLedger(store, DEFAULT_RULES).handle_batch(STORY)
    story = store.month_story("acct-1", "2027-01")
    assert sorted(story.events.bodies) == sorted(body(i) for i in ["g-dec", "g-nov"])
    assert story.events.expired == frozenset()
    assert story.other_months == {"2026-11": Points(12, 12), "2026-12": Points(0, 12)}


def test_a_month_story_holds_the_account_s_stored_balance(store: LedgerStore) -> None:
    """The month's story carries the account's stored balance, whatever the month (what
    ``explain --month`` checks against); ``None`` for an account without a balance row."""
    PointsLedger(store, DEFAULT_RULES).handle_batch(STORY)
    [stored] = store.balances("acct-1")
    for month in ("2026-11", "2027-01"):
        assert store.month_story("acct-1", month).balance == Points(
            stored.confirmed, stored.provisional
        )
    assert store.month_story("acct-9", "2026-11").balance is None
