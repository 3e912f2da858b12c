"""``points outbox …`` as operators run it: real console script, real moto, SQLite outbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from infra.apply import apply_topology
from infra.aws import sns_client, sqs_client
from infra.local import free_port
from infra.resolve import topology
from infra.settings import Config
from producers.outbox import create_outbox_table, outbox_status, record
from tests.support.cli import POINTS, run_points
from tests.support.factories import make_event

pytestmark = pytest.mark.moto


@pytest.fixture
def outbox_env(aws: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An outbox in its own SQLite file (POINTS_OUTBOX_DATABASE_URL), table not yet created."""
    url = f"sqlite:///{tmp_path}/payments.sqlite3"
    monkeypatch.setenv("POINTS_OUTBOX_DATABASE_URL", url)
    return url


def _record(url: str, count: int) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for i in range(count):
            record(conn, make_event(event_id=f"e-{i}"))
    engine.dispose()


def _pending(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        pending = int(outbox_status(conn)["pending"])
    engine.dispose()
    return pending


def _status() -> dict[str, object]:
    result = run_points("outbox", "status", "--json")
    assert result.returncode == 0, result.stderr
    status: dict[str, object] = json.loads(result.stdout)
    return status


def test_relay_once_keeps_rows_while_sns_is_down_then_delivers(
    aws: Config, outbox_env: str
) -> None:
    """SNS unreachable: exit 1 and rows stay pending; against moto: exit 0, all published."""
    applied = apply_topology(topology(aws), sns_client(aws.aws), sqs_client(aws.aws))
    init = run_points("outbox", "init", "--json")
    assert init.returncode == 0, init.stderr
    assert json.loads(init.stdout) == {"created": True}
    _record(outbox_env, 3)
    dead = f"http://127.0.0.1:{free_port()}"
    down = run_points(
        "--endpoint-url", dead, "outbox", "relay", "--once", "--json",
        env={"POINTS_TOPIC_ARN": applied.topic_arn},
    )  # fmt: skip
    assert down.returncode == 1, down.stderr
    assert json.loads(down.stdout)["published"] == 0
    assert _pending(outbox_env) == 3
    up = run_points("outbox", "relay", "--once", "--json")
    assert up.returncode == 0, up.stderr
    assert json.loads(up.stdout)["published"] == 3
    status = _status()
    assert (status["pending"], status["sent"]) == (0, 3)


def test_long_running_relay_publishes_new_rows_and_stops_on_sigterm(
    aws: Config, outbox_env: str
) -> None:
    """Without --once the relay keeps polling; SIGTERM ends it cleanly with a report."""
    apply_topology(topology(aws), sns_client(aws.aws), sqs_client(aws.aws))
    create_outbox_table(sa.create_engine(outbox_env))
    process = subprocess.Popen(
        [str(POINTS), "outbox", "relay", "--json", "--poll-seconds", "0.05"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        _record(outbox_env, 2)
        engine = sa.create_engine(outbox_env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if outbox_status(conn)["sent"] == 2:
                    break
            time.sleep(0.05)
        engine.dispose()
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert json.loads(stdout)["published"] == 2


def test_relay_without_outbox_table_asks_for_init(aws: Config, tmp_path: Path) -> None:
    """A database without the table: exit 2 and a one-line hint, no traceback."""
    url = f"sqlite:///{tmp_path}/empty.sqlite3"
    result = run_points("outbox", "relay", "--once", env={"POINTS_OUTBOX_DATABASE_URL": url})
    assert result.returncode == 2
    assert "points outbox init" in result.stderr
    assert "Traceback" not in result.stderr


def test_ddl_prints_the_table_for_migrations() -> None:
    """``points outbox ddl`` prints the PostgreSQL DDL a payment service migrates with."""
    result = run_points("outbox", "ddl")
    assert result.returncode == 0, result.stderr
    assert "CREATE TABLE points_outbox" in result.stdout
    assert "WHERE sent_at IS NULL" in result.stdout
