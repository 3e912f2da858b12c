"""The ledger store's own contract, on real SQLite and PostgreSQL, for every driver."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from consumers.bootstrap import Ledger
from consumers.db import DataRefused
from consumers.points.amounts import Points
from consumers.points.earning import MonthRef
from consumers.points.facts import EventFacts, PaymentEventType, PaymentFacts
from consumers.points.store.records import (
    Entry,
    EntryKind,
    MonthRecord,
    PaymentRecord,
    StoredEvent,
)
from consumers.points.tables import ledger_entries, ledger_events, ledger_months, ledger_payments
from schemas.events import Brand
from tests.support.factories import make_event
from tests.support.ledger import ledger_on
from tests.support.ledger_kit import migrated_engine


@pytest.fixture(
    params=[
        ("sqlite", "auto"),
        ("sqlite", "core"),
        pytest.param(("postgres", "auto"), marks=pytest.mark.postgres),
        pytest.param(("postgres", "core"), marks=pytest.mark.postgres),
    ],
    ids=lambda p: "-".join(p),
)
def ledger(request: pytest.FixtureRequest) -> Iterator[Ledger]:
    database, driver = request.param
    url: str = request.getfixturevalue("sqlite_url" if database == "sqlite" else "postgres_url")
    migrated_engine(url).dispose()
    with ledger_on(url, driver=driver) as ledger:
        yield ledger


NOVEMBER = MonthRef("acct-1", "2026-11")


def _count(ledger: Ledger, table: sa.Table) -> int:
    with ledger.engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _event(event_id: str, account_id: str = "acct-1") -> StoredEvent:
    facts = EventFacts(
        event_id=event_id,
        event_type=PaymentEventType.AUTHORIZATION,
        payment_id="pay-1",
        account_id=account_id,
        brand=Brand.VISA,
        occurred_at=datetime(2026, 11, 1, tzinfo=UTC),
        amount=1000,
        mcc="5411",
        country="JP",
    )
    return StoredEvent(facts, "0" * 64, "{}")


def test_a_unit_of_work_left_without_commit_leaves_nothing(ledger: Ledger) -> None:
    """Claims and deferred writes vanish when the unit of work ends uncommitted."""
    payment = PaymentFacts.empty("pay-1", "acct-1", Brand.VISA)
    with ledger.store.unit_of_work() as uow:
        claim = uow.claim([payment], [_event("e1")], [NOVEMBER])
        assert claim.recorded == {"e1"}
        assert claim.months == {NOVEMBER: MonthRecord(NOVEMBER)}
        uow.append([Entry(EntryKind.EVENT, "acct-1", Points(1, 0), "pay-1", "e1")])
    counts = [_count(ledger, t) for t in (ledger_events, ledger_payments, ledger_months)]
    assert counts == [0, 0, 0]


def test_deferred_writes_reach_the_tables_at_commit(ledger: Ledger) -> None:
    """``append``/``save_payments``/``add_to_balances`` are written by ``commit``."""
    payment = PaymentFacts.empty("pay-1", "acct-1", Brand.VISA)
    with ledger.store.unit_of_work() as uow:
        uow.claim([payment], [_event("e1")], [NOVEMBER])
        uow.append([Entry(EntryKind.EVENT, "acct-1", Points(3, 4), "pay-1", "e1", "2026-11")])
        uow.save_payments([PaymentRecord(payment, "2026-11", None, Points(3, 4))])
        uow.save_months([MonthRecord(NOVEMBER, Points(3, 4), Points(3, 4))])
        uow.add_to_balances({"acct-1": Points(3, 4)})
        uow.add_to_balances({"acct-1": Points(1, 0)})
        uow.commit()
    assert [(b.confirmed, b.provisional) for b in ledger.store.balances()] == [(4, 4)]
    assert _count(ledger, ledger_entries) == 1
    assert ledger.store.accounts_snapshot(["acct-1"]).months == [
        MonthRecord(NOVEMBER, Points(3, 4), Points(3, 4))
    ]


def test_a_claim_locks_the_month_a_stored_payment_counts_in(ledger: Ledger) -> None:
    """Besides the months it is given, a claim locks each locked payment's stored month."""
    ledger.handle_batch([make_event(amount=1000, occurred_at="2026-11-21T10:00:00+09:00")])
    payment = PaymentFacts.empty("pay-1", "acct-1", Brand.VISA)
    december = MonthRef("acct-1", "2026-12")
    with ledger.store.unit_of_work() as uow:
        claim = uow.claim([payment], [_event("e9")], [december])
    assert set(claim.months) == {NOVEMBER, december}
    assert claim.months[NOVEMBER].credited == Points(0, 10)


def test_a_second_claim_of_an_event_records_nothing(ledger: Ledger) -> None:
    """The inbox is the idempotency record: a stored event id is not claimed again."""
    payment = PaymentFacts.empty("pay-1", "acct-1", Brand.VISA)
    for expected in ({"e1"}, set()):
        with ledger.store.unit_of_work() as uow:
            assert uow.claim([payment], [_event("e1")], []).recorded == expected
            uow.commit()


def test_expiry_entries_are_recorded_at_the_wall_clock_not_the_as_of_instant(
    ledger: Ledger,
) -> None:
    """``--now`` decides eligibility; the entry's ``recorded_at`` is when it was written."""
    ledger.handle_batch([make_event(amount=1000, occurred_at="2026-10-01T10:00:00+09:00")])
    before = datetime.now(UTC)
    [released] = ledger.expire(now=datetime(2031, 1, 1, tzinfo=UTC), ttl=timedelta(days=30))
    after = datetime.now(UTC)
    [expiry] = [e for e in ledger.store.history("acct-1") if e.kind == EntryKind.EXPIRY]
    assert released.released == 10
    assert before <= expiry.recorded_at <= after


@pytest.mark.postgres
def test_data_the_database_refuses_leaves_the_unit_of_work_as_data_refused(
    postgres_url: str,
) -> None:
    """PostgreSQL refusing NUL in text is classified once, by the store, as permanent."""
    migrated_engine(postgres_url).dispose()
    poison = PaymentFacts.empty("pay-1", "acct\x00", Brand.VISA)
    with (
        ledger_on(postgres_url) as ledger,
        pytest.raises(DataRefused),
        ledger.store.unit_of_work() as uow,
    ):
        uow.claim([poison], [_event("e1", "acct\x00")], [])


@pytest.mark.postgres
def test_an_over_long_value_is_refused_not_cut_to_its_column(postgres_url: str) -> None:
    """Rows travel as JSON and are cast on the server: a value longer than its column is
    refused (``DataRefused``), never truncated into another event's or payment's key."""
    migrated_engine(postgres_url).dispose()
    long_id = "e" * 129
    with ledger_on(postgres_url) as ledger:
        with pytest.raises(DataRefused), ledger.store.unit_of_work() as uow:
            uow.claim([PaymentFacts.empty("pay-1", "acct-1", Brand.VISA)], [_event(long_id)], [])
        assert _count(ledger, ledger_events) == 0
        assert _count(ledger, ledger_payments) == 0
