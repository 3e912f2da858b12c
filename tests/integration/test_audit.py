"""The operator audit (DESIGN §5): one row per state-changing action, in the ledger DB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from consumers.db import make_engine, upgrade
from infra.settings import Config
from ops.audit import AuditLog, AuditUnavailable, audited, record


@pytest.fixture(params=["sqlite", "postgres"])
def config(aws: Config, request: pytest.FixtureRequest) -> Config:
    """moto for the caller identity (STS), a migrated ledger database of either kind."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return Config.resolve(endpoint_url=aws.aws.endpoint_url, database_url=url)


def _entries(config: Config, **query: object) -> list[dict[str, object]]:
    log = AuditLog.open(config.points.database_url)
    try:
        return [e.as_json() for e in log.entries(**query)]  # type: ignore[arg-type]
    finally:
        log.close()


def test_one_call_records_a_completed_action(config: Config) -> None:
    """``record``: what ``ledger adjust`` and ``rules publish`` will call, once."""
    action_id = record(
        config,
        "ledger adjust",
        arguments={"account": "acct-1", "points": 100},
        counts={"points": 100},
        reason="goodwill, ticket 42",
    )
    (entry,) = _entries(config)
    assert entry["id"] == action_id
    assert (entry["command"], entry["reason"], entry["outcome"]) == (
        "ledger adjust",
        "goodwill, ticket 42",
        "completed",
    )
    assert entry["counts"] == {"points": 100}
    assert entry["arguments"] == {"account": "acct-1", "points": 100}
    assert str(entry["actor"]).startswith("arn:aws:")  # moto's caller identity
    assert entry["os_user"]


def test_a_failed_or_interrupted_action_says_so(config: Config) -> None:
    """An error inside the action: ``failed``; Ctrl-C: ``interrupted`` (and both re-raised)."""
    with pytest.raises(RuntimeError), audited(config, "dlq purge", arguments={}, reason="r"):
        raise RuntimeError("boom")
    with pytest.raises(KeyboardInterrupt), audited(config, "dlq purge", arguments={}, reason="r"):
        raise KeyboardInterrupt
    assert [e["outcome"] for e in _entries(config)] == ["interrupted", "failed"]


def test_since_keeps_the_newer_actions(config: Config) -> None:
    """``--since``: actions started at or after the given time, newest first."""
    record(config, "replay", arguments={}, counts={}, reason=None)
    now = datetime.now(UTC)
    assert len(_entries(config, since=now - timedelta(minutes=5))) == 1
    assert _entries(config, since=now + timedelta(minutes=5)) == []


def test_no_ledger_database_refuses_to_act(tmp_path: Path) -> None:
    """A SQLite file that does not exist is not created: the action is refused, naming the
    setting to fix."""
    missing = tmp_path / "nope.sqlite3"
    with pytest.raises(AuditUnavailable, match="POINTS_DATABASE_URL"):
        AuditLog.open(f"sqlite:///{missing}")
    assert not missing.exists()


def test_an_unmigrated_database_refuses_to_act(sqlite_url: str) -> None:
    """A ledger database without the audit table (before 0003): run ``points db upgrade``."""
    engine = make_engine(sqlite_url)
    upgrade(engine, "0002")
    engine.dispose()
    with pytest.raises(AuditUnavailable, match="points db upgrade"):
        AuditLog.open(sqlite_url)
