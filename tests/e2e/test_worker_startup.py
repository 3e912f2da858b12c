"""``points worker`` at start-up: configuration errors fail at once, in one line naming the
setting; only a database server that is away is waited for (DESIGN §5, issue #14 item 7).

The child's timeout is a guard, not a measurement: before the fix each of these cases
waited out the 60 s start-up wait, which the guard turns into a failure.
"""

from __future__ import annotations

import subprocess
import uuid

import pytest
import sqlalchemy as sa

from consumers.bootstrap import database, ready
from consumers.db import DatabaseUnavailable
from consumers.retries import RetryPolicy
from tests.support.cli import run_points

#: Longer than starting the CLI on a loaded host, far shorter than the start-up wait.
GUARD_SECONDS = 40


def _worker(database_url: str) -> subprocess.CompletedProcess[str]:
    env = {"POINTS_DATABASE_URL": database_url, "AWS_ENDPOINT_URL": "http://127.0.0.1:1"}
    return run_points("worker", "--queue", "points", env=env, timeout=GUARD_SECONDS)


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.postgres
def test_a_missing_database_fails_at_once_naming_the_setting(postgres_url: str) -> None:
    """A misspelled database name (SQLSTATE 3D000) is one line, not a minute of silence."""
    missing = sa.make_url(postgres_url).set(database=f"missing_{uuid.uuid4().hex[:6]}")
    line = _one_line(_worker(missing.render_as_string(hide_password=False)))
    assert "POINTS_DATABASE_URL" in line
    assert f'database "{missing.database}" does not exist' in line


@pytest.mark.postgres
def test_an_unknown_role_fails_at_once_naming_the_setting(postgres_url: str) -> None:
    """Authentication refused (28000/28P01) is a configuration error."""
    url = sa.make_url(postgres_url).set(username="nobody_here", password=None)
    line = _one_line(_worker(url.render_as_string(hide_password=False)))
    assert "POINTS_DATABASE_URL" in line
    assert "nobody_here" in line


def test_an_unknown_host_fails_at_once_naming_the_setting() -> None:
    """A host name that does not resolve is named, not waited for."""
    line = _one_line(_worker("postgresql://postgres@db.invalid:5432/points"))
    assert "POINTS_DATABASE_URL" in line
    assert "db.invalid" in line


def test_a_server_that_is_away_is_waited_for_then_named() -> None:
    """Connection refused is transient: retried until the wait ends, then reported."""
    engine = database("postgresql://postgres@127.0.0.1:1/points", "service")
    attempts: list[int] = []
    engine_connect = sa.event.listens_for(engine, "do_connect")

    @engine_connect
    def count(*_args: object) -> None:
        attempts.append(1)

    try:
        with pytest.raises(DatabaseUnavailable, match="POINTS_DATABASE_URL: database unavailable"):
            ready(engine, retry=RetryPolicy(attempts=1), wait_seconds=1.5)
    finally:
        engine.dispose()
    assert len(attempts) > 1
