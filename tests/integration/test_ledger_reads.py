"""Operator reads that scale, on real SQLite and PostgreSQL: keyset pages of balances and
history, and ``verify`` streaming through accounts in bounded chunks (DESIGN §6, #16)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from consumers.bootstrap import Ledger
from consumers.points.store import LedgerStore, among
from consumers.points.store.records import Snapshot, StoredEvent
from consumers.points.tables import ledger_balances, ledger_entries, ledger_payments
from consumers.points.verify import DEFAULT_CHUNK_ENTRIES, Scope
from tests.support.factories import make_event
from tests.support.ledger import ledger_on
from tests.support.ledger_kit import migrated_engine

ACCOUNTS = [f"acct-{n:02d}" for n in range(10)]
CHUNK = 3  # four chunks over ten accounts: 3, 3, 3, 1


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    url: str = request.getfixturevalue(
        "sqlite_url" if request.param == "sqlite" else "postgres_url"
    )
    engine = migrated_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def ledger(engine: Engine) -> Iterator[Ledger]:
    """Ten accounts applied in scrambled order; account n has n+1 payments of ¥1,000·(n+1)."""
    with ledger_on(engine) as ledger:
        events = [
            make_event(
                event_id=f"{account}-{p}",
                account_id=account,
                payment_id=f"{account}-pay-{p}",
                amount=1000 * (n + 1),
            )
            for n, account in enumerate(ACCOUNTS)
            for p in range(n + 1)
        ]
        ledger.handle_batch(events[::-1])
        yield ledger


def tamper_balance(engine: Engine, account_id: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.update(ledger_balances)
            .where(ledger_balances.c.account_id == account_id)
            .values(confirmed=ledger_balances.c.confirmed + 7)
        )


@pytest.mark.parametrize("limit", [1, 3, 5, 10, 11])
def test_balance_pages_return_every_account_once_in_order(ledger: Ledger, limit: int) -> None:
    """Pages of ``limit`` with ``after`` at each page's last account (pages that divide ten
    evenly, one page exactly, one page too big): all ten, sorted, no repeats."""
    seen: list[str] = []
    after: str | None = None
    while page := ledger.store.balances(after=after, limit=limit):
        assert len(page) <= limit
        seen.extend(b.account_id for b in page)
        after = page[-1].account_id
    assert seen == ACCOUNTS


def test_balances_of_one_account(ledger: Ledger) -> None:
    """``account_id`` answers that account's balance only."""
    [found] = ledger.store.balances("acct-04")
    assert (found.account_id, found.provisional) == ("acct-04", 5 * 50)


def test_history_pages_forward_and_backward_in_entry_order(ledger: Ledger) -> None:
    """An account's entries in pages of 2, forwards with ``after`` and backwards with
    ``before``, are its whole history in entry order either way."""
    whole = ledger.store.history("acct-06")
    assert [e.entry_id for e in whole] == sorted(e.entry_id for e in whole)
    assert len(whole) == 7
    forward: list[int] = []
    after: int | None = None
    while page := ledger.store.history("acct-06", after=after, limit=2):
        forward.extend(e.entry_id for e in page)
        after = page[-1].entry_id
    backward: list[int] = []
    before = whole[-1].entry_id + 1
    while page := ledger.store.history("acct-06", before=before, limit=2):
        assert [e.entry_id for e in page] == sorted(e.entry_id for e in page)
        backward[:0] = [e.entry_id for e in page]
        before = page[0].entry_id
    assert forward == backward == [e.entry_id for e in whole]


def test_account_ids_page_through_the_union_of_projections_and_entries(
    ledger: Ledger, engine: Engine
) -> None:
    """An account with entries but no balance row is still one of the ledger's accounts."""
    with engine.begin() as connection:
        connection.execute(
            sa.delete(ledger_balances).where(ledger_balances.c.account_id == "acct-09")
        )
    assert ledger.store.account_ids(CHUNK, after="acct-07") == ["acct-08", "acct-09"]
    assert ledger.store.account_ids(CHUNK, first="acct-02", last="acct-03") == [
        "acct-02",
        "acct-03",
    ]


def test_streaming_verify_is_clean_and_counts_the_whole_ledger(ledger: Ledger) -> None:
    """Chunks of 3 accounts add up to the whole ledger's counts, and nothing drifted."""
    report = ledger.verify(chunk_size=CHUNK)
    assert report.clean, report.drifts
    assert (report.events, report.entries, report.payments, report.accounts) == (55, 55, 55, 10)


@pytest.mark.parametrize(
    ("account_id", "chunk_size", "chunk_entries"),
    [
        (ACCOUNTS[-1], CHUNK, 100),
        (ACCOUNTS[0], CHUNK, 100),
        (ACCOUNTS[-1], 5, 100),
        (ACCOUNTS[-1], 1, 100),
        (ACCOUNTS[-1], CHUNK, 10),
        (ACCOUNTS[-1], CHUNK, 4),
    ],
    ids=[
        "last-chunk-alone",
        "first-chunk",
        "last-of-a-full-chunk",
        "chunks-of-one",
        "last-chunk-at-the-entry-budget",
        "last-chunk-over-the-entry-budget",
    ],
)
def test_streaming_verify_catches_a_drift_in_the_first_and_last_chunk(
    ledger: Ledger, engine: Engine, account_id: str, chunk_size: int, chunk_entries: int
) -> None:
    """A balance altered for the last account in keyset order (alone in the fourth chunk of
    3, last of a full chunk of 5, in chunks of one, alone in a chunk cut by the entry budget
    of 10 it fills exactly or of 4 it exceeds) or the first is reported, and only it."""
    tamper_balance(engine, account_id)
    report = ledger.verify(chunk_size=chunk_size, chunk_entries=chunk_entries)
    assert [(d.check, d.key) for d in report.drifts] == [("balance", account_id)]


def test_verify_of_one_account_checks_only_that_account(ledger: Ledger, engine: Engine) -> None:
    """``Scope.account``: the drift of another account is not looked at, its own is."""
    tamper_balance(engine, "acct-05")
    clean = ledger.verify(Scope.account("acct-04"), chunk_size=CHUNK)
    assert clean.clean
    assert (clean.events, clean.payments, clean.accounts) == (5, 5, 1)
    drifted = ledger.verify(Scope.account("acct-05"), chunk_size=CHUNK)
    assert [d.key for d in drifted.drifts] == ["acct-05"]


def test_verify_of_a_range_checks_the_accounts_in_it(ledger: Ledger, engine: Engine) -> None:
    """``Scope(first, last)`` is inclusive at both ends and sees drifts at either end."""
    tamper_balance(engine, "acct-02")
    tamper_balance(engine, "acct-05")
    tamper_balance(engine, "acct-06")
    report = ledger.verify(Scope("acct-02", "acct-05"), chunk_size=CHUNK)
    assert report.accounts == 4
    assert [d.key for d in report.drifts] == ["acct-02", "acct-05"]


def test_verify_sees_a_payment_row_whose_account_lost_everything_else(
    ledger: Ledger, engine: Engine
) -> None:
    """A payment projection moved to an account that has no balance or entries is found
    there (its chunk comes from the payments' keyset too)."""
    with engine.begin() as connection:
        connection.execute(
            sa.update(ledger_payments)
            .where(ledger_payments.c.payment_id == "acct-00-pay-0")
            .values(account_id="zz-nobody")
        )
    checks = {(d.check, d.key) for d in ledger.verify(chunk_size=CHUNK).drifts}
    assert ("payment_facts", "acct-00-pay-0") in checks


def test_verify_reports_events_no_account_reaches(ledger: Ledger, engine: Engine) -> None:
    """Events whose payment row and entries are gone are still checked (the orphan pass)."""
    with engine.begin() as connection:
        connection.execute(
            sa.delete(ledger_entries).where(ledger_entries.c.payment_id == "acct-03-pay-1")
        )
        connection.execute(
            sa.delete(ledger_payments).where(ledger_payments.c.payment_id == "acct-03-pay-1")
        )
    report = ledger.verify(chunk_size=CHUNK)
    assert report.events == 55
    assert {("payment_missing", "acct-03-pay-1"), ("event_entries", "acct-03-1")} <= {
        (d.check, d.key) for d in report.drifts
    }


class CountingReads:
    """Wraps a store's verify reads: the accounts of each snapshot, the entries of each,
    and the limits and budgets ``account_ids``/``orphan_events`` were asked with."""

    def __init__(self, store: LedgerStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.store = store
        self.loaded: list[int] = []
        self.entries: list[int] = []
        self.asked: list[tuple[int, int | None]] = []
        self._snapshot, self._ids = store.accounts_snapshot, store.account_ids
        self._orphans = store.orphan_events
        monkeypatch.setattr(store, "accounts_snapshot", self.accounts_snapshot)
        monkeypatch.setattr(store, "account_ids", self.account_ids)
        monkeypatch.setattr(store, "orphan_events", self.orphan_events)

    def accounts_snapshot(self, accounts: Sequence[str]) -> Snapshot:
        chunk = self._snapshot(accounts)
        self.loaded.append(len(accounts))
        self.entries.append(len(chunk.entries))
        return chunk

    def account_ids(
        self,
        limit: int,
        *,
        after: str | None = None,
        first: str | None = None,
        last: str | None = None,
        max_entries: int | None = None,
    ) -> list[str]:
        self.asked.append((limit, max_entries))
        return self._ids(limit, after=after, first=first, last=last, max_entries=max_entries)

    def orphan_events(self, limit: int, *, after: str | None = None) -> list[StoredEvent]:
        self.asked.append((limit, None))
        return self._orphans(limit, after=after)


def test_verify_never_asks_for_more_than_a_chunk(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The memory bound: every read verify makes is at most one chunk of accounts/events,
    and the ten accounts (55 entries, under the default entry budget) take four chunk reads."""
    reads_ = CountingReads(ledger.store, monkeypatch)
    assert ledger.verify(chunk_size=CHUNK).clean
    assert reads_.loaded == [3, 3, 3, 1]
    assert set(reads_.asked) == {(CHUNK, DEFAULT_CHUNK_ENTRIES), (CHUNK, None)}


def test_verify_cuts_heavy_accounts_into_chunks_by_their_entries(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a budget of 10 entries (account n has n+1): acct-00..02 fill a chunk of 3
    accounts (6 entries), acct-03 and -04 make 9, then each heavier account comes alone —
    acct-09's 10 fill the budget — and the report counts the whole ledger, clean."""
    reads_ = CountingReads(ledger.store, monkeypatch)
    report = ledger.verify(chunk_size=CHUNK, chunk_entries=10)
    assert report.clean, report.drifts
    assert (report.events, report.entries, report.accounts) == (55, 55, 10)
    assert reads_.loaded == [3, 2, 1, 1, 1, 1, 1]
    assert reads_.entries == [6, 9, 6, 7, 8, 9, 10]


def test_a_chunk_read_in_slices_holds_every_row(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Off PostgreSQL a chunk's ids go in ``IN`` slices: with slices of 2, a chunk of all ten
    accounts still holds every event, entry, payment and balance."""
    monkeypatch.setattr(among, "IN_LIST_SLICE", 2)
    chunk = ledger.store.accounts_snapshot(ACCOUNTS)
    counts = (len(chunk.events), len(chunk.entries), len(chunk.payments), len(chunk.balances))
    assert counts == (55, 55, 55, 10)
