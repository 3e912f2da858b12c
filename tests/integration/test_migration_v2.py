"""Migration 0005 on a v1 ledger (SQLite and PostgreSQL): every balance is kept, the new
projections are filled, verify is clean, and the v2 ledger carries on from there.

``data/v1_ledger_0004.json`` holds the rows main's v1 ledger (git a2d12b9) wrote at
revision 0004 for a small story: a payment anchored on 31 October (JST) cleared and
partly refunded in November, a quicpay authorization, an expired payment and one at an
excluded MCC on a second account.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from consumers.bootstrap import Ledger
from consumers.db import make_engine, upgrade
from consumers.handler import Result
from consumers.points.amounts import Points
from consumers.points.earning import MonthRef
from consumers.points.store.records import MonthRecord
from tests.support.factories import make_event
from tests.support.ledger import ledger_on

V1_ROWS: dict[str, list[dict[str, Any]]] = json.loads(
    (Path(__file__).parent / "data" / "v1_ledger_0004.json").read_text(encoding="utf-8")
)


def _typed(name: str) -> sa.ColumnClause[Any]:
    return sa.column(name, sa.DateTime(timezone=True)) if name.endswith("_at") else sa.column(name)


def _insert_v1_rows(engine: Engine) -> None:
    with engine.begin() as connection:
        for table_name in ("ledger_events", "ledger_entries", "ledger_payments", "ledger_balances"):
            # Entry ids are left to the database (in order), as v1 left them.
            rows = [{k: v for k, v in r.items() if k != "id"} for r in V1_ROWS[table_name]]
            table = sa.table(table_name, *(_typed(name) for name in rows[0]))
            values = [
                {
                    k: datetime.fromisoformat(v) if k.endswith("_at") and v else v
                    for k, v in r.items()
                }
                for r in rows
            ]
            connection.execute(sa.insert(table), values)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def migrated_v1(request: pytest.FixtureRequest) -> Iterator[Ledger]:
    url: str = request.getfixturevalue(
        "sqlite_url" if request.param == "sqlite" else "postgres_url"
    )
    engine = make_engine(url)
    upgrade(engine, "0004")
    _insert_v1_rows(engine)
    upgrade(engine)
    engine.dispose()
    with ledger_on(url) as ledger:
        yield ledger


def test_every_v1_balance_is_kept(migrated_v1: Ledger) -> None:
    """Balances after the upgrade are the v1 balances, to the point."""
    kept = [(b.account_id, b.confirmed, b.provisional) for b in migrated_v1.store.balances()]
    v1 = [(b["account_id"], b["confirmed"], b["provisional"]) for b in V1_ROWS["ledger_balances"]]
    assert kept == v1


def test_account_months_hold_the_v1_points_uncapped(migrated_v1: Ledger) -> None:
    """Each payment counts in its anchor's JST month; credited = earned (v1 had no cap)."""
    months = {m.ref: m for m in migrated_v1.store.accounts_snapshot(["acct-1", "acct-2"]).months}
    october, november = MonthRef("acct-1", "2026-10"), MonthRef("acct-1", "2026-11")
    assert months[october] == MonthRecord(october, Points(7, 0), Points(7, 0))
    assert months[november] == MonthRecord(november, Points(0, 15), Points(0, 15))


def test_verify_is_clean_after_the_upgrade(migrated_v1: Ledger) -> None:
    """The migrated projections are what the events and the (default) rules give."""
    report = migrated_v1.verify()
    assert report.clean, report.drifts


def test_the_v2_ledger_carries_on_from_a_migrated_v1_ledger(migrated_v1: Ledger) -> None:
    """A v1 event redelivered is a duplicate; a new clearing applies; verify stays clean."""
    old = make_event(event_id="v1-a1", amount=1200, occurred_at="2026-10-31T23:30:00+09:00")
    clearing = make_event(
        "clearing", event_id="v2-c2", payment_id="pay-2", brand="quicpay", amount=3000
    )
    assert migrated_v1.handle_batch([old, clearing]) == [Result.duplicate(), Result.applied()]
    [acct_1, _] = migrated_v1.store.balances()
    assert (acct_1.confirmed, acct_1.provisional) == (7 + 15, 0)
    assert migrated_v1.expire(now=datetime(2027, 1, 1, tzinfo=UTC)) == []
    report = migrated_v1.verify()
    assert report.clean, report.drifts
