"""The ledger store's contract (``consumers.points.store.persistence``), stated once and run
against every implementation: the in-memory fake the unit tests use
(``tests/support/memory_store.py``), SQLite and PostgreSQL. The fake is only as good as
its agreement with the real drivers: a behaviour the ledger relies on belongs here."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from consumers.db import DataRefused
from consumers.points.amounts import Points
from consumers.points.earning import MonthRef
from consumers.points.facts import EventFacts, PaymentFacts, apply_event
from consumers.points.intake import stored_event
from consumers.points.rules import DEFAULT_RULES, Rate
from consumers.points.store import LedgerStore
from consumers.points.store.records import (
    Entry,
    EntryKind,
    MonthRecord,
    PaymentRecord,
    StoredEvent,
)
from consumers.points.store.rule_rows import NewPublication
from tests.support.factories import make_event, make_grant
from tests.support.stores import every_store  # noqa: F401 (pytest fixture)

MONTH = "2026-11"


def event(event_id: str, payment_id: str = "pay-1", amount: int = 1200, **kw: str) -> StoredEvent:
    """An authorization of ``payment_id`` as the inbox stores it."""
    return stored_event(make_event(event_id=event_id, payment_id=payment_id, amount=amount, **kw))


def grant(event_id: str, account_id: str = "acct-1") -> StoredEvent:
    return stored_event(make_grant(event_id=event_id, account_id=account_id))


def empty(payment_id: str = "pay-1", account_id: str = "acct-1") -> PaymentFacts:
    return PaymentFacts.empty(payment_id, account_id, make_event().brand)


def applied(*events: StoredEvent) -> PaymentRecord:
    """The payment record after ``events`` (of one payment), with some earned points."""
    facts = empty(events[0].facts.payment_id, events[0].facts.account_id)  # type: ignore[union-attr]
    for item in events:
        assert isinstance(item.facts, EventFacts)
        facts = apply_event(facts, item.facts)
    return PaymentRecord(facts, MONTH, Rate(100, ("double",)), Points(0, 12))


def book(store: LedgerStore, *events: StoredEvent, delta: Points = Points(0, 12)) -> None:
    """Claim ``events`` (of one payment) and commit their payment, month, entry and balance
    as the ledger would."""
    record = applied(*events)
    account = record.facts.account_id
    with store.unit_of_work() as uow:
        uow.claim([empty(record.facts.payment_id, account)], events, [MonthRef(account, MONTH)])
        uow.append(
            [
                Entry(EntryKind.EVENT, account, delta, record.facts.payment_id, e.facts.event_id)
                for e in events
            ]
        )
        uow.save_payments([record])
        uow.save_months([MonthRecord(MonthRef(account, MONTH), record.earned, delta)])
        uow.add_to_balances({account: delta})
        uow.commit()


def test_claim_records_new_events_and_skips_stored_ids_whatever_their_content(
    store: LedgerStore,
) -> None:
    """An event id already stored is not recorded again — even with other content — and
    ``stored_hashes`` answers with the stored copy's hash."""
    first = event("e1")
    book(store, first)
    other = event("e1", amount=999)
    with store.unit_of_work() as uow:
        claim = uow.claim([empty()], [other, event("e2")], [])
        assert claim.recorded == {"e2"}
        assert uow.stored_hashes(["e1", "e2", "nope"]) == {
            "e1": first.content_hash,
            "e2": event("e2").content_hash,
        }


def test_a_claimed_id_is_not_recorded_twice_in_one_unit_of_work(store: LedgerStore) -> None:
    """A second claim of an id in the same unit of work sees the first one's insert."""
    with store.unit_of_work() as uow:
        assert uow.claim([empty()], [event("e1")], []).recorded == {"e1"}
        assert uow.claim([empty()], [event("e1")], []).recorded == set()


def test_writes_without_commit_vanish(store: LedgerStore) -> None:
    """Leaving a unit of work without ``commit()`` discards its claim and its deferred
    writes: nothing is visible to reads, and the same events are new again. (Reads while a
    unit is open are not part of the contract: SQLite's readers wait for the writer.)"""
    item = event("e1")
    with store.unit_of_work() as uow:
        uow.claim([empty()], [item], [MonthRef("acct-1", MONTH)])
        uow.append([Entry(EntryKind.EVENT, "acct-1", Points(5, 0), "pay-1", "e1")])
        uow.add_to_balances({"acct-1": Points(5, 0)})
    assert (store.balances(), store.account_ids(10), store.orphan_events(10)) == ([], [], [])
    with store.unit_of_work() as uow:
        assert uow.claim([empty()], [item], []).recorded == {"e1"}


def test_an_exception_rolls_the_unit_of_work_back(store: LedgerStore) -> None:
    """An exception leaving the unit of work is re-raised and nothing it wrote remains."""

    def claim_then_fail() -> None:
        with store.unit_of_work() as uow:
            uow.claim([empty()], [event("e1")], [])
            raise LookupError("the batch failed half-way")

    with pytest.raises(LookupError):
        claim_then_fail()
    with store.unit_of_work() as uow:
        assert uow.stored_hashes(["e1"]) == {}


def test_committed_writes_are_visible_to_reads_and_later_units(store: LedgerStore) -> None:
    """After ``commit()`` the payment, balance and events are there for everyone."""
    book(store, event("e1"))
    view = store.payment("pay-1")
    assert view is not None
    assert (view.account_id, view.authorized, view.provisional) == ("acct-1", 1200, 12)
    assert [(b.account_id, b.confirmed, b.provisional) for b in store.balances()] == [
        ("acct-1", 0, 12)
    ]
    with store.unit_of_work() as uow:
        assert set(uow.stored_hashes(["e1"])) == {"e1"}


def test_claim_creates_placeholders_that_forget_placeholders_removes(store: LedgerStore) -> None:
    """A payment never seen is locked as a placeholder (``event_count == 0``, no month);
    forgotten, it leaves no payment behind the commit."""
    with store.unit_of_work() as uow:
        claim = uow.claim([empty("pay-9", "acct-9")], [], [])
        placeholder = claim.payments["pay-9"]
        assert (placeholder.facts.event_count, placeholder.month) == (0, None)
        assert placeholder.facts.account_id == "acct-9"
        uow.forget_placeholders(["pay-9"])
        assert uow.lock_payments(["pay-9"]) == {}
        uow.commit()
    assert store.payment("pay-9") is None
    assert store.account_ids(10) == []


def test_forget_placeholders_keeps_payments_with_events(store: LedgerStore) -> None:
    """Only placeholders are forgotten: a payment with applied events stays."""
    book(store, event("e1"))
    with store.unit_of_work() as uow:
        uow.claim([empty()], [], [])
        uow.forget_placeholders(["pay-1"])
        uow.commit()
    assert store.payment("pay-1") is not None


def test_forget_events_deletes_the_inbox_rows_of_rejected_events(store: LedgerStore) -> None:
    """An event claimed and then forgotten is not stored by the commit."""
    with store.unit_of_work() as uow:
        uow.claim([empty()], [event("e1"), event("e2")], [])
        uow.forget_events(["e2"])
        uow.commit()
    with store.unit_of_work() as uow:
        assert set(uow.stored_hashes(["e1", "e2"])) == {"e1"}


def test_claim_and_lock_payments_return_the_stored_facts(store: LedgerStore) -> None:
    """A known payment's claim and ``lock_payments`` give back exactly the saved record;
    unknown ids are left out."""
    events = (event("e1"), event("e2", event_type="clearing"))
    book(store, *events)
    with store.unit_of_work() as uow:
        claimed = uow.claim([empty()], [], []).payments
        locked = uow.lock_payments(["pay-1", "pay-unknown"])
    assert claimed == {"pay-1": applied(*events)}
    assert locked == {"pay-1": applied(*events)}


def test_months_are_created_at_zero_and_saved_as_given(store: LedgerStore) -> None:
    """``lock_months`` creates missing account-months at zero; saved ones come back as
    saved, from ``lock_months`` and from a claim of their payment (its stored month)."""
    ref = MonthRef("acct-1", MONTH)
    with store.unit_of_work() as uow:
        assert uow.lock_months([ref, ref]) == {ref: MonthRecord(ref)}
    book(store, event("e1"), delta=Points(0, 7))
    saved = MonthRecord(ref, Points(0, 12), Points(0, 7))
    with store.unit_of_work() as uow:
        assert uow.lock_months([ref]) == {ref: saved}
        assert uow.claim([empty()], [], []).months == {ref: saved}


def test_balance_deltas_add_up_across_commits(store: LedgerStore) -> None:
    """``add_to_balances`` adds to the stored balance (creating it), within and across
    units of work."""
    for _ in range(2):
        with store.unit_of_work() as uow:
            uow.add_to_balances({"acct-1": Points(3, 1)})
            uow.add_to_balances({"acct-1": Points(1, -1), "acct-2": Points(0, 4)})
            uow.commit()
    found = [(b.account_id, b.confirmed, b.provisional) for b in store.balances()]
    assert found == [("acct-1", 8, 0), ("acct-2", 0, 8)]
    assert [b.account_id for b in store.balances("acct-2")] == ["acct-2"]


def test_balances_page_by_account_id(store: LedgerStore) -> None:
    """Balances come sorted by account id; ``after`` and ``limit`` make a keyset page."""
    with store.unit_of_work() as uow:
        uow.add_to_balances({f"acct-{n}": Points(n, 0) for n in (5, 1, 4, 2, 3)})
        uow.commit()
    pages = [store.balances(limit=2), store.balances(after="acct-2", limit=2)]
    assert [[b.account_id for b in page] for page in pages] == [
        ["acct-1", "acct-2"],
        ["acct-3", "acct-4"],
    ]
    assert [b.account_id for b in store.balances(after="acct-4")] == ["acct-5"]


def test_history_is_in_recording_order_and_pages_both_ways(store: LedgerStore) -> None:
    """An account's entries in ``entry_id`` order with their events; ``after`` gives the
    next ones, ``before`` the last ones before a cursor (still in order)."""
    for n in range(1, 6):
        book(store, event(f"e{n}", payment_id=f"pay-{n}", amount=100 * n))
    book(store, event("x1", payment_id="pay-x", account_id="acct-2"))
    entries = store.history("acct-1")
    assert [e.event_id for e in entries] == ["e1", "e2", "e3", "e4", "e5"]
    assert [e.amount for e in entries] == [100, 200, 300, 400, 500]
    assert {(e.kind, e.event_type) for e in entries} == {("event", "authorization")}
    ids = [e.entry_id for e in entries]
    assert ids == sorted(ids)
    assert [e.event_id for e in store.history("acct-1", after=ids[1], limit=2)] == ["e3", "e4"]
    assert [e.event_id for e in store.history("acct-1", before=ids[4], limit=2)] == ["e3", "e4"]


def test_expiry_candidates_are_open_earning_payments_authorized_before_the_cutoff(
    store: LedgerStore,
) -> None:
    """Not final, not expired, with provisional points and authorized before the cutoff."""
    book(store, event("e1"))
    book(store, event("e2", payment_id="pay-2"), delta=Points(0, 0))
    expired = replace(applied(event("e3", payment_id="pay-3")).facts, expired=True)
    book(store, event("e3", payment_id="pay-3"))
    with store.unit_of_work() as uow:
        uow.save_payments([PaymentRecord(expired, MONTH, Rate(100), Points(0, 12))])
        uow.commit()
    authorized = make_event().occurred_at
    with store.unit_of_work() as uow:
        assert uow.expiry_candidates(authorized) == []
        assert uow.expiry_candidates(authorized + timedelta(seconds=1)) == ["pay-1", "pay-2"]


def test_verify_reads_accounts_their_rows_and_orphan_events(store: LedgerStore) -> None:
    """``account_ids`` pages the accounts any row names; ``accounts_snapshot`` holds their
    rows and their payments' and grants' events; an event nothing names is an orphan."""
    book(store, event("e1"))
    book(store, event("e2", payment_id="pay-2", account_id="acct-2"))
    with store.unit_of_work() as uow:
        uow.claim([], [grant("g1", "acct-3"), grant("g-orphan", "acct-4")], [])
        uow.append([Entry(EntryKind.EVENT, "acct-3", Points(500, 0), event_id="g1")])
        uow.add_to_balances({"acct-3": Points(500, 0)})
        uow.commit()
    assert store.account_ids(2) == ["acct-1", "acct-2"]
    assert store.account_ids(5, after="acct-1") == ["acct-2", "acct-3"]
    assert store.account_ids(5, first="acct-2", last="acct-2") == ["acct-2"]
    chunk = store.accounts_snapshot(["acct-1", "acct-3"])
    assert sorted(e.facts.event_id for e in chunk.events) == ["e1", "g1"]
    assert sorted(e.account_id for e in chunk.entries) == ["acct-1", "acct-3"]
    assert [p.facts.payment_id for p in chunk.payments] == ["pay-1"]
    assert [m.ref for m in chunk.months] == [MonthRef("acct-1", MONTH)]
    assert sorted(b.account_id for b in chunk.balances) == ["acct-1", "acct-3"]
    assert [e.facts.event_id for e in store.orphan_events(10)] == ["g-orphan"]
    assert store.orphan_events(10, after="g-orphan") == []


def test_account_ids_cut_a_heavy_first_range_at_the_entry_budget(store: LedgerStore) -> None:
    """With ``max_entries`` a chunk ends before the account that would pass the budget:
    acct-1 (4 entries, over a budget of 3) comes alone — never split —, then acct-2 (2) and
    acct-3 (1), then acct-4 (a balance row only: it costs 1) and acct-5 (1)."""
    for n in range(4):
        book(store, event(f"a{n}", payment_id=f"pay-a{n}"))
    for n in range(2):
        book(store, event(f"b{n}", payment_id=f"pay-b{n}", account_id="acct-2"))
    book(store, event("c0", payment_id="pay-c0", account_id="acct-3"))
    book(store, event("e0", payment_id="pay-e0", account_id="acct-5"))
    with store.unit_of_work() as uow:
        uow.add_to_balances({"acct-4": Points(1, 0)})
        uow.commit()
    chunks: list[list[str]] = []
    after: str | None = None
    while chunk := store.account_ids(10, after=after, max_entries=3):
        chunks.append(chunk)
        after = chunk[-1]
    assert chunks == [["acct-1"], ["acct-2", "acct-3"], ["acct-4", "acct-5"]]
    assert store.account_ids(10, max_entries=1) == ["acct-1"]
    assert store.account_ids(2, after="acct-1", max_entries=100) == ["acct-2", "acct-3"]
    assert store.account_ids(10, first="acct-2", last="acct-4", max_entries=3) == [
        "acct-2",
        "acct-3",
    ]


def test_a_publication_raises_the_revision_and_lists_its_versions(store: LedgerStore) -> None:
    """Appending a publication returns the new revision, which ``lock_rules`` then reads;
    its versions are listed in publication order once committed (rolled back: gone)."""
    version = DEFAULT_RULES.versions[0]
    publication = NewPublication((version,), "ops@example", "first rules", backdated=False)
    with store.unit_of_work() as uow:
        assert uow.lock_rules(exclusive=True) == 0
        uow.append_publication(publication)
    with store.unit_of_work() as uow:
        revision = uow.append_publication(publication)
        assert uow.lock_rules() == revision
        uow.commit()
    [published] = store.published_versions()
    assert (published.version, published.publication_id) == (version, revision)
    assert (published.actor, published.reason, published.backdated) == (
        "ops@example",
        "first rules",
        False,
    )


def test_a_unit_sees_its_own_publication_under_the_rules_lock(store: LedgerStore) -> None:
    """``lock_rules`` held exclusive and then asked again returns the revision of the
    unit's own publication, not the one it read when it took the lock."""
    version = DEFAULT_RULES.versions[0]
    publication = NewPublication((version,), "ops@example", "first rules", backdated=False)
    with store.unit_of_work() as uow:
        assert uow.lock_rules(exclusive=True) == 0
        revision = uow.append_publication(publication)
        assert uow.lock_rules() == revision


def test_a_claim_takes_the_rules_lock_and_reads_the_revision(store: LedgerStore) -> None:
    """After a claim, ``lock_rules`` returns the revision committed before it (the claim
    took the lock first; a driver may have read the revision in the claim's round trip)."""
    version = DEFAULT_RULES.versions[0]
    publication = NewPublication((version,), "ops@example", "first rules", backdated=False)
    with store.unit_of_work() as uow:
        uow.lock_rules(exclusive=True)
        revision = uow.append_publication(publication)
        uow.commit()
    with store.unit_of_work() as uow:
        uow.claim([empty()], [event("e1")], [MonthRef("acct-1", MONTH)])
        assert uow.lock_rules() == revision


def test_backdating_reads_payments_by_anchor_and_months_by_range(store: LedgerStore) -> None:
    """``anchored_between`` is [start, end) on the anchor instant; ``months_between`` the
    stored account-months in an inclusive range."""
    book(store, event("e1"))
    anchor = make_event().occurred_at
    book(store, event("e2", payment_id="pay-2", occurred_at="2026-12-02T10:00:00+09:00"))
    with store.unit_of_work() as uow:
        uow.lock_months([MonthRef("acct-1", "2026-12"), MonthRef("acct-2", "2027-01")])
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.anchored_between(anchor, anchor + timedelta(days=1)) == ["pay-1"]
        assert uow.anchored_between(None, anchor) == []
        assert uow.anchored_between(None, None) == ["pay-1", "pay-2"]
        assert uow.months_between("2026-12", None) == [
            MonthRef("acct-1", "2026-12"),
            MonthRef("acct-2", "2027-01"),
        ]
        assert uow.months_between(None, "2026-11") == [MonthRef("acct-1", MONTH)]


def test_an_account_story_holds_its_event_bodies_once_and_expired_payments(
    store: LedgerStore,
) -> None:
    """The bodies of the events the account's entries name, and the payments of its
    expiry entries."""
    first = event("e1")
    book(store, first)
    with store.unit_of_work() as uow:
        uow.append([Entry(EntryKind.EXPIRY, "acct-1", Points(0, -12), "pay-1")])
        uow.commit()
    story = store.account_story("acct-1")
    assert (story.bodies, story.expired) == ([first.body], frozenset({"pay-1"}))


def test_an_account_story_holds_the_stored_balance_read_with_it(store: LedgerStore) -> None:
    """The story carries the account's stored balance (what ``explain`` checks it against);
    ``None`` for an account without a balance row."""
    book(store, event("e1"), delta=Points(3, 12))
    assert store.account_story("acct-1").balance == Points(3, 12)
    assert store.account_story("acct-9").balance is None


def test_an_event_has_one_entry_at_most(store: LedgerStore) -> None:
    """A second entry naming an event is refused by the commit, leaving the unit of work
    as ``DataRefused``; nothing of that unit of work is kept."""
    book(store, event("e1"))

    def second_entry() -> None:
        with store.unit_of_work() as uow:
            uow.append([Entry(EntryKind.EVENT, "acct-1", Points(0, 1), "pay-1", "e1")])
            uow.commit()

    with pytest.raises(DataRefused):
        second_entry()
    assert len(store.history("acct-1")) == 1


def test_a_claim_without_months_locks_and_creates_none(store: LedgerStore) -> None:
    """``months=None`` (rules without a cap): not even the payment's stored month."""
    book(store, event("e1"))
    with store.unit_of_work() as uow:
        assert (
            uow.claim([empty(), empty("pay-2", "acct-2")], [event("e2", "pay-2")], None).months
            == {}
        )
        assert uow.lock_months([]) == {}
    with store.unit_of_work() as uow:
        assert set(uow.lock_months([MonthRef("acct-2", MONTH)]).values()) == {
            MonthRecord(MonthRef("acct-2", MONTH))
        }


def test_month_deltas_add_to_earned_and_credited_alike(store: LedgerStore) -> None:
    """``add_to_months`` adds to a stored month and creates a missing one from zero."""
    book(store, event("e1"), delta=Points(0, 7))  # stored: earned (0, 12), credited (0, 7)
    stored, new = MonthRef("acct-1", MONTH), MonthRef("acct-1", "2026-12")
    with store.unit_of_work() as uow:
        uow.add_to_months({stored: Points(3, 1), new: Points(2, 0)})
        uow.add_to_months({new: Points(1, -1)})
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.lock_months([stored, new]) == {
            stored: MonthRecord(stored, Points(3, 13), Points(3, 8)),
            new: MonthRecord(new, Points(3, -1), Points(3, -1)),
        }
