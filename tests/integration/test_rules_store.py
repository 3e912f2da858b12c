"""Rules as data in the ledger database (DESIGN §4.6): storage, publication, reload.

Every test runs on SQLite and PostgreSQL with the production bootstrap; the ledger gets
its rules from the database (``PublishedRules``), never from a fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from consumers.bootstrap import bootstrap_ledger, migrate_ledger
from consumers.points.publication import RulesConflict
from consumers.points.published import RulesFileNotPublished
from consumers.points.publishing import BackdateRefused, Published, publish_rules
from consumers.points.rules import parse_rules, version_digest
from consumers.points.store import LedgerStore
from infra.settings import Config
from tests.support.factories import make_event
from tests.support.ledger import ledger_on
from tests.support.ledger_kit import migrated_engine_for

#: "Now" of the publications in these tests: well before the versions they publish.
EARLY = datetime(2026, 1, 1, tzinfo=UTC)
DECEMBER = """{"versions": [{"effective_from": "2026-12-01T00:00:00+09:00",
  "rates_bp": {"visa": 300, "quicpay": 50}, "monthly_cap_points": 1000}]}"""


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    engine = migrated_engine_for(request)
    yield engine
    engine.dispose()


def publish(store: LedgerStore, text: str, *, now: datetime = EARLY) -> Published:
    return publish_rules(
        store, parse_rules(text), actor="tester", reason="test", now=now, lead=timedelta(minutes=5)
    )


def test_published_versions_read_back_as_published(engine: Engine) -> None:
    """A published version reads back with the same digest, actor, reason and revision."""
    with ledger_on(engine) as ledger:
        result = publish(ledger.store, DECEMBER)
        [stored] = ledger.store.published_versions()
    assert result.revision == stored.publication_id == 1
    assert stored.digest == version_digest(parse_rules(DECEMBER).versions[0])
    assert (stored.actor, stored.reason, stored.backdated) == ("tester", "test", False)


def test_the_same_version_twice_is_a_no_op(engine: Engine) -> None:
    """A version already published, however spelled, adds nothing and keeps the revision."""
    with ledger_on(engine) as ledger:
        publish(ledger.store, DECEMBER)
        again = publish(
            ledger.store, DECEMBER.replace("2026-12-01T00:00:00+09:00", "2026-11-30T15:00:00Z")
        )
        assert (again.added, len(again.unchanged), again.revision) == ((), 1, 1)
        assert len(ledger.store.published_versions()) == 1


def test_another_version_at_a_published_effective_from_is_refused(engine: Engine) -> None:
    """A different version at an effective_from already published is a RulesConflict."""
    with ledger_on(engine) as ledger:
        publish(ledger.store, DECEMBER)
        with pytest.raises(RulesConflict, match="already published"):
            publish(ledger.store, DECEMBER.replace("300", "200"))
        assert len(ledger.store.published_versions()) == 1


def test_a_version_before_now_plus_lead_is_refused_without_backdate(engine: Engine) -> None:
    """Taking effect within POINTS_RULES_LEAD of now is backdated: refused, nothing stored."""
    soon = datetime(2026, 11, 30, 14, 58, tzinfo=UTC)  # 2 min before 2026-12-01 JST
    with ledger_on(engine) as ledger:
        with pytest.raises(BackdateRefused, match="--backdate"):
            publish(ledger.store, DECEMBER, now=soon)
        assert ledger.store.published_versions() == []


def test_running_ledger_picks_up_a_future_version_without_restart(engine: Engine) -> None:
    """One ledger instance: a payment before the version earns the default, after it the
    published rate (the worker re-reads the rules when the revision moves)."""
    with ledger_on(engine) as ledger:
        ledger.handle_batch([make_event(payment_id="nov", event_id="e1", amount=1000)])
        publish(ledger.store, DECEMBER)
        december = make_event(
            payment_id="dec", event_id="e2", amount=1000, occurred_at="2026-12-05T10:00:00+09:00"
        )
        ledger.handle_batch([december])
        nov, dec = ledger.store.payment("nov"), ledger.store.payment("dec")
    assert nov is not None
    assert dec is not None
    assert (nov.provisional, dec.provisional) == (10, 30)


def test_rules_file_is_adopted_at_migration_when_nothing_is_published(
    engine: Engine, tmp_path: Path
) -> None:
    """`points db upgrade` publishes POINTS_RULES_FILE once; a second upgrade adds nothing."""
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(DECEMBER)
    migrate_ledger(engine, rules_file)
    migrate_ledger(engine, rules_file)
    with ledger_on(engine) as ledger:
        [stored] = ledger.store.published_versions()
    assert (stored.actor, stored.publication_id) == ("POINTS_RULES_FILE", 1)


def test_start_is_refused_when_the_rules_file_holds_an_unpublished_version(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process whose POINTS_RULES_FILE disagrees with the database does not start."""
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(DECEMBER)
    monkeypatch.setenv("POINTS_RULES_FILE", str(rules_file))
    url = engine.url.render_as_string(hide_password=False)
    with pytest.raises(RulesFileNotPublished, match="points rules publish"):
        bootstrap_ledger(Config.resolve(database_url=url))
