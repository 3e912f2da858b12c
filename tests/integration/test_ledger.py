"""The ledger on real SQLite and PostgreSQL: exactly-once application, conflicts, expiry,
verify. One behaviour per test; every test runs on both databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from consumers.bootstrap import Ledger
from consumers.db import DatabaseNotMigrated, DatabaseUnavailable, make_engine
from consumers.handler import Result
from consumers.points.rules import DEFAULT_RULES, parse_rules
from consumers.points.store import open_store
from consumers.points.tables import (
    KIND_EXPIRY,
    ledger_balances,
    ledger_entries,
    ledger_events,
    ledger_payments,
)
from consumers.retries import RetryPolicy
from schemas.canonical import content_hash
from schemas.envelope import decode_body
from schemas.errors import IdempotencyConflict, PaymentConflict
from tests.support.factories import event_dict, make_event
from tests.support.ledger import ledger_on
from tests.support.ledger_kit import (
    LEDGER_TABLES,
    count,
    entry_rows,
    ledger_state,
    migrated_engine,
    outcomes,
)

NOW = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)


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
    with ledger_on(engine) as ledger:
        yield ledger


def balance(engine: Engine, account_id: str = "acct-1") -> tuple[int, int]:
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(ledger_balances.c.confirmed, ledger_balances.c.provisional).where(
                ledger_balances.c.account_id == account_id
            )
        ).one()
    return (row.confirmed, row.provisional)


def test_applied_event_updates_payment_and_balance(ledger: Ledger, engine: Engine) -> None:
    """An authorization of ¥1,200 (visa) is applied: 12 provisional points."""
    assert ledger.handle_batch([make_event(amount=1200)]) == [Result.applied()]
    payments, balances = ledger_state(engine)
    assert payments["pay-1"]["provisional"] == 12
    assert balances == [{"account_id": "acct-1", "confirmed": 0, "provisional": 12}]


def test_redelivered_event_is_a_duplicate_without_effect(ledger: Ledger, engine: Engine) -> None:
    """The same event again is acknowledged as DUPLICATE; nothing changes."""
    ledger.handle_batch([make_event(amount=1200)])
    before = (ledger_state(engine), entry_rows(engine))
    assert ledger.handle_batch([make_event(amount=1200)]) == [Result.duplicate()]
    assert (ledger_state(engine), entry_rows(engine)) == before


def test_same_content_in_other_json_form_is_a_duplicate(ledger: Ledger) -> None:
    """Key order, whitespace and unknown fields do not change an event's content."""
    document = event_dict()
    reordered = json.dumps(dict(reversed(list(document.items()))) | {"x-extra": 1}, indent=2)
    ledger.handle_batch([decode_body(json.dumps(document))])
    assert ledger.handle_batch([decode_body(reordered)]) == [Result.duplicate()]


def test_reused_event_id_with_other_content_is_an_idempotency_conflict(
    ledger: Ledger, engine: Engine
) -> None:
    """Same event_id, different amount: permanent IdempotencyConflict, no effect."""
    ledger.handle_batch([make_event(amount=1200)])
    before = ledger_state(engine)
    [result] = ledger.handle_batch([make_event(amount=9999)])
    assert isinstance(result.error, IdempotencyConflict)
    assert ledger_state(engine) == before


def test_other_account_for_a_known_payment_is_a_payment_conflict(
    ledger: Ledger, engine: Engine
) -> None:
    """An event naming another account than its payment's earlier events is rejected."""
    ledger.handle_batch([make_event(amount=1200)])
    [result] = ledger.handle_batch([make_event("clearing", account_id="acct-2")])
    assert isinstance(result.error, PaymentConflict)
    assert count(engine, ledger_events) == 1


def test_other_brand_for_a_known_payment_is_a_payment_conflict(ledger: Ledger) -> None:
    """An event naming another brand than its payment's earlier events is rejected."""
    ledger.handle_batch([make_event(amount=1200)])
    [result] = ledger.handle_batch([make_event("clearing", brand="quicpay")])
    assert isinstance(result.error, PaymentConflict)
    assert "brand" in str(result.error)


def test_conflicting_event_does_not_stop_the_rest_of_its_batch(
    ledger: Ledger, engine: Engine
) -> None:
    """Poison isolation: good events around a conflicting one are committed."""
    ledger.handle_batch([make_event(amount=1000)])
    batch = [
        make_event("clearing", event_id="c1", amount=400),
        make_event("clearing", event_id="bad", account_id="acct-2"),
        make_event("authorization", event_id="a2", payment_id="pay-2", amount=500),
    ]
    assert outcomes(ledger.handle_batch(batch)) == ["applied", "payment_conflict", "applied"]
    assert balance(engine) == (4, 6 + 5)


def test_duplicate_within_one_batch_is_applied_once(ledger: Ledger, engine: Engine) -> None:
    """Two copies of an event in one batch: the first applies, the second is a duplicate."""
    results = ledger.handle_batch([make_event(amount=1000), make_event(amount=1000)])
    assert outcomes(results) == ["applied", "duplicate"]
    assert balance(engine) == (0, 10)


def test_two_contents_for_one_event_id_in_one_batch(ledger: Ledger, engine: Engine) -> None:
    """The first copy wins; a different second copy is an IdempotencyConflict."""
    results = ledger.handle_batch([make_event(amount=1000), make_event(amount=2000)])
    assert outcomes(results) == ["applied", "idempotency_conflict"]
    assert balance(engine) == (0, 10)


def test_payments_of_an_unapplied_batch_leave_no_trace(ledger: Ledger, engine: Engine) -> None:
    """A new payment whose only event is rejected leaves no payment row behind."""
    ledger.handle_batch([make_event(event_id="x", payment_id="pay-1")])
    [result] = ledger.handle_batch([make_event(event_id="x", payment_id="pay-new")])
    assert isinstance(result.error, IdempotencyConflict)
    with engine.connect() as connection:
        ids = connection.execute(sa.select(ledger_payments.c.payment_id)).scalars().all()
    assert ids == ["pay-1"]


def test_each_applied_event_has_one_entry_summing_to_the_points(
    ledger: Ledger, engine: Engine
) -> None:
    """Entries are deltas per applied event; a payment's entries sum to its points."""
    ledger.handle_batch(
        [
            make_event(event_id="a", amount=1000),
            make_event("clearing", event_id="c", amount=600),
            make_event("refund", event_id="r", amount=100),
        ]
    )
    rows = entry_rows(engine)
    assert [row[2] for row in rows] == ["a", "c", "r"]
    confirmed = sum(row[6] for row in rows)
    provisional = sum(row[5] for row in rows)
    assert (confirmed, provisional) == balance(engine) == (5, 4)


def test_entries_are_append_only(ledger: Ledger, engine: Engine) -> None:
    """Later events add entries; earlier entries are never changed."""
    ledger.handle_batch([make_event(event_id="a", amount=1000)])
    first = entry_rows(engine)
    ledger.handle_batch([make_event("clearing", event_id="c", amount=1000, final=True)])
    assert entry_rows(engine)[: len(first)] == first
    assert len(entry_rows(engine)) == 2


def test_late_earlier_event_moves_the_anchor_and_rule_version(engine: Engine) -> None:
    """An event older than the anchor arriving late re-prices the payment by its version."""
    rules = parse_rules(
        json.dumps(
            {
                "versions": [
                    {"rates_bp": {"visa": 100, "quicpay": 50}},
                    {
                        "effective_from": "2026-12-01T00:00:00+09:00",
                        "rates_bp": {"visa": 300, "quicpay": 50},
                    },
                ]
            }
        )
    )
    ledger = ledger_on(engine, rules=rules)
    ledger.handle_batch(
        [make_event("clearing", event_id="c", amount=1000, occurred_at="2026-12-02T10:00:00+09:00")]
    )
    assert balance(engine) == (30, 0)
    ledger.handle_batch(
        [make_event(event_id="a", amount=1000, occurred_at="2026-11-28T10:00:00+09:00")]
    )
    assert balance(engine) == (10, 0)
    assert ledger.verify().clean


@pytest.mark.parametrize(
    ("story", "expected"),
    [
        pytest.param([("authorization", 1000, {"approved": False})], (0, 0), id="declined"),
        pytest.param(
            [("authorization", 1000, {}), ("authorization", 500, {})], (0, 15), id="incremental"
        ),
        pytest.param(
            [("authorization", 1000, {}), ("authorization_reversal", 400, {})],
            (0, 6),
            id="partial-reversal",
        ),
        pytest.param(
            [("authorization", 1000, {}), ("authorization_reversal", 1000, {})],
            (0, 0),
            id="full-reversal",
        ),
        pytest.param(
            [("authorization", 1000, {}), ("clearing", 700, {})], (7, 3), id="clearing-lower"
        ),
        pytest.param(
            [("authorization", 1000, {}), ("clearing", 1300, {})], (13, 0), id="over-capture"
        ),
        pytest.param(
            [("authorization", 1000, {}), ("clearing", 300, {}), ("clearing", 400, {})],
            (7, 3),
            id="split-no-final",
        ),
        pytest.param(
            [
                ("authorization", 1000, {}),
                ("clearing", 300, {}),
                ("clearing", 400, {"final": True}),
            ],
            (7, 0),
            id="split-final",
        ),
        pytest.param([("clearing", 800, {})], (8, 0), id="force-post"),
        pytest.param(
            [("authorization", 800, {"approved": False}), ("clearing", 800, {})],
            (8, 0),
            id="clearing-after-decline",
        ),
        pytest.param(
            [("clearing", 600, {}), ("authorization", 1000, {})], (6, 4), id="clearing-before-auth"
        ),
        pytest.param(
            [("authorization_reversal", 1000, {}), ("authorization", 1000, {})],
            (0, 0),
            id="reversal-before-auth",
        ),
        pytest.param(
            [("clearing", 1000, {"final": True}), ("refund", 300, {})], (7, 0), id="partial-refund"
        ),
        pytest.param(
            [("clearing", 500, {"final": True}), ("refund", 800, {})], (0, 0), id="refund-exceeds"
        ),
        pytest.param(
            [("clearing", 1000, {"merchant": {"name": "W", "mcc": "9311", "country": "JP"}})],
            (0, 0),
            id="excluded-mcc",
        ),
        pytest.param([("clearing", 1, {}), ("authorization", 1, {})], (0, 0), id="one-yen"),
    ],
)
def test_edge_story_through_the_ledger(
    ledger: Ledger,
    engine: Engine,
    story: list[tuple[str, int, dict[str, Any]]],
    expected: tuple[int, int],
) -> None:
    """Each DESIGN §4 edge case, one event per batch in the order given, ends as expected."""
    for n, (kind, amount, extra) in enumerate(story):
        assert ledger.handle_batch(
            [make_event(kind, event_id=f"e{n}", amount=amount, **extra)]
        ) == [Result.applied()]
    assert balance(engine) == expected
    assert ledger.verify().clean


def test_expiry_releases_old_provisional_points(ledger: Ledger, engine: Engine) -> None:
    """After the TTL, provisional points drop to 0 through an appended expiry entry."""
    ledger.handle_batch([make_event(amount=1000, occurred_at="2026-10-01T10:00:00+09:00")])
    released = ledger.expire(now=NOW)
    assert [(r.payment_id, r.released) for r in released] == [("pay-1", 10)]
    assert balance(engine) == (0, 0)
    assert entry_rows(engine)[-1][1] == KIND_EXPIRY
    payments, _ = ledger_state(engine)
    assert payments["pay-1"]["expired"] is True


def test_expiry_twice_releases_once(ledger: Ledger, engine: Engine) -> None:
    """Re-running the expiry job finds nothing more to do."""
    ledger.handle_batch([make_event(amount=1000, occurred_at="2026-10-01T10:00:00+09:00")])
    ledger.expire(now=NOW)
    assert ledger.expire(now=NOW) == []
    assert count(engine, ledger_entries) == 2


def test_expiry_keeps_recent_payments(ledger: Ledger, engine: Engine) -> None:
    """A payment authorized within the TTL keeps its provisional points."""
    ledger.handle_batch([make_event(amount=1000, occurred_at="2026-11-10T10:00:00+09:00")])
    assert ledger.expire(now=NOW) == []
    assert balance(engine) == (0, 10)


def test_expiry_honours_the_ttl(ledger: Ledger, engine: Engine) -> None:
    """A shorter TTL expires younger payments."""
    ledger.handle_batch([make_event(amount=1000, occurred_at="2026-11-10T10:00:00+09:00")])
    assert len(ledger.expire(now=NOW, ttl=timedelta(days=5))) == 1


def test_late_clearing_after_expiry_still_confirms(ledger: Ledger, engine: Engine) -> None:
    """A clearing after expiry confirms its points; provisional stays 0."""
    ledger.handle_batch([make_event(amount=1000, occurred_at="2026-10-01T10:00:00+09:00")])
    ledger.expire(now=NOW)
    ledger.handle_batch([make_event("clearing", amount=800)])
    assert balance(engine) == (8, 0)
    assert ledger.verify().clean


def test_verify_is_clean_after_application_and_expiry(ledger: Ledger, engine: Engine) -> None:
    """Projections recomputed from events and entries match what was written."""
    ledger.handle_batch(
        [
            make_event(event_id="a", amount=1000, occurred_at="2026-10-01T10:00:00+09:00"),
            make_event("clearing", event_id="c", payment_id="pay-2", amount=500),
        ]
    )
    ledger.expire(now=NOW)
    report = ledger.verify()
    assert report.clean, report.drifts
    assert (report.events, report.entries, report.payments, report.accounts) == (2, 3, 2, 1)


def test_verify_detects_a_tampered_balance(ledger: Ledger, engine: Engine) -> None:
    """A balance that no longer equals its entries is reported."""
    ledger.handle_batch([make_event(amount=1000)])
    with engine.begin() as connection:
        connection.execute(sa.update(ledger_balances).values(confirmed=99))
    assert [d.check for d in ledger.verify().drifts] == ["balance"]


def test_verify_detects_a_tampered_payment(ledger: Ledger, engine: Engine) -> None:
    """A payment projection that disagrees with its stored events is reported."""
    ledger.handle_batch([make_event(amount=1000)])
    with engine.begin() as connection:
        connection.execute(sa.update(ledger_payments).values(authorized=5))
    assert [d.check for d in ledger.verify().drifts] == ["payment_facts"]


def test_verify_detects_an_edited_event(ledger: Ledger, engine: Engine) -> None:
    """A stored event whose body no longer matches its content hash is reported."""
    ledger.handle_batch([make_event(amount=1000)])
    with engine.begin() as connection:
        connection.execute(sa.update(ledger_events).values(body="{}"))
    assert "event_hash" in [d.check for d in ledger.verify().drifts]


def test_verify_detects_a_missing_entry(ledger: Ledger, engine: Engine) -> None:
    """An applied event without its entry is reported (and its account's sums too)."""
    ledger.handle_batch([make_event(amount=1000)])
    with engine.begin() as connection:
        connection.execute(sa.delete(ledger_entries))
    checks = {d.check for d in ledger.verify().drifts}
    assert {"event_entries", "balance"} <= checks


def test_stored_event_keeps_its_content_hash(ledger: Ledger, engine: Engine) -> None:
    """The inbox stores the canonical body and ``schemas.canonical.content_hash``."""
    event = make_event(amount=1000)
    ledger.handle_batch([event])
    with engine.connect() as connection:
        stored = connection.execute(sa.select(ledger_events.c.content_hash)).scalar_one()
    assert stored == content_hash(event)


def test_bootstrap_refuses_an_unmigrated_database(sqlite_url: str) -> None:
    """Workers never create tables: an empty database is refused with the fix named."""
    with pytest.raises(DatabaseNotMigrated, match="points db upgrade"):
        ledger_on(sqlite_url)


def test_unreachable_database_is_a_transient_failure_for_the_batch() -> None:
    """With the database down, bounded retries end in DatabaseUnavailable (transient)."""
    engine = make_engine(
        "postgresql+psycopg://postgres@127.0.0.1:1/none", connect_args={"connect_timeout": 1}
    )
    ledger = Ledger(
        open_store(engine), DEFAULT_RULES, engine, RetryPolicy(attempts=2, max_wait=0.01)
    )
    with pytest.raises(DatabaseUnavailable):
        ledger.handle_batch([make_event()])
    engine.dispose()


def test_stored_timestamps_read_back_as_the_same_instants(ledger: Ledger, engine: Engine) -> None:
    """Fast-path writes store timestamps exactly as Core reads them (any offset → UTC)."""
    ledger.handle_batch([make_event(amount=1000, occurred_at="2026-11-21T10:00:00.123456+09:00")])
    with engine.connect() as connection:
        stored = connection.execute(sa.select(ledger_events.c.occurred_at)).scalar_one()
        anchor = connection.execute(sa.select(ledger_payments.c.anchor_occurred_at)).scalar_one()
    expected = datetime(2026, 11, 21, 1, 0, 0, 123456, tzinfo=UTC)
    for value in (stored, anchor):
        assert value.replace(tzinfo=value.tzinfo or UTC) == expected


def test_core_statements_end_in_the_same_state_as_the_driver_fast_path(engine: Engine) -> None:
    """The SQLAlchemy Core statements (other drivers) write exactly what the fast path does."""
    story = [
        make_event(event_id="a", amount=1000, occurred_at="2026-10-01T10:00:00+09:00"),
        make_event("clearing", event_id="c", amount=700),
        make_event("authorization", event_id="b", payment_id="pay-2", brand="quicpay"),
        make_event("clearing", event_id="x", payment_id="pay-2", account_id="acct-9"),
        make_event("clearing", event_id="c", amount=700),
    ]
    fast = ledger_on(engine).handle_batch(story)
    fast_state = (ledger_state(engine), [row[1:7] for row in entry_rows(engine)])
    with engine.begin() as connection:
        for table in LEDGER_TABLES:
            connection.execute(sa.delete(table))
    core_ledger = ledger_on(engine, driver="core")
    core = core_ledger.handle_batch(story)
    assert outcomes(core) == outcomes(fast)
    assert (ledger_state(engine), [row[1:7] for row in entry_rows(engine)]) == fast_state
    assert core_ledger.verify().clean
