"""The outbox and its relay on a real SQLite file and an in-memory SNS.

The publisher is the real one (``SnsPublisher``); only the AWS client is faked.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from consumers.db import make_engine
from producers.fake_sns import EntryFailure, FakeSns
from producers.outbox import create_outbox_table, outbox_status, outbox_table, record
from producers.publisher import RetryPolicy, SnsPublisher
from producers.relay import Relay, RelaySettings
from tests.support.factories import make_event

TOPIC = "arn:aws:sns:ap-northeast-1:123456789012:payment-events"
FAST = RetryPolicy(attempts=2, initial_wait=0, max_wait=0)


class Crash(Exception):
    """Stands for the relay process dying."""


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path}/payments.sqlite3")
    create_outbox_table(engine)
    return engine


def relay(engine: Engine, sns: FakeSns, **kwargs: Any) -> Relay:
    settings = kwargs.pop("settings", RelaySettings(batch_size=4))
    return Relay(engine, SnsPublisher(cast(Any, sns), TOPIC, FAST), settings, **kwargs)


def record_events(engine: Engine, count: int) -> list[str]:
    ids = [f"e-{i}" for i in range(count)]
    with engine.begin() as conn:
        for event_id in ids:
            record(conn, make_event(event_id=event_id))
    return ids


def pending(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(outbox_status(conn)["pending"])


def test_relay_publishes_in_recording_order_and_marks_sent(engine: Engine) -> None:
    """Ten rows, batches of four: all published once, in id order, none left pending."""
    ids = record_events(engine, 10)
    sns = FakeSns()
    report = relay(engine, sns).run_once()
    assert sns.event_ids() == ids
    assert report.published == 10
    assert pending(engine) == 0


def test_second_pass_publishes_nothing(engine: Engine) -> None:
    """Sent rows are not published again."""
    record_events(engine, 3)
    sns = FakeSns()
    relay(engine, sns).run_once()
    assert relay(engine, sns).run_once().published == 0
    assert len(sns.messages) == 3


def test_recording_the_same_event_twice_keeps_one_row(engine: Engine) -> None:
    """A re-sent brand record inside a new payment transaction neither fails nor duplicates."""
    with engine.begin() as conn:
        assert record(conn, make_event(event_id="e-1")) is True
    with engine.begin() as conn:
        assert record(conn, make_event(event_id="e-1")) is False
    assert pending(engine) == 1


def test_rows_stay_pending_while_sns_is_down(engine: Engine) -> None:
    """SNS unavailable: the pass stops, rows keep attempts and the error, a later pass sends."""
    record_events(engine, 2)
    sns = FakeSns(entry_failures=[EntryFailure("e-0", times=2), EntryFailure("e-1", times=2)])
    report = relay(engine, sns).run_once()
    assert not report.ok
    with engine.connect() as conn:
        status = outbox_status(conn)
    assert status["pending"] == status["failing"] == 2
    assert "unavailable" in status["last_error"]
    assert relay(engine, sns).run_once().published == 2


def test_rejected_row_stays_pending_and_others_go_out(engine: Engine) -> None:
    """An entry SNS refuses for good is kept (never dropped) and does not block the rest."""
    record_events(engine, 6)
    sns = FakeSns(entry_failures=[EntryFailure("e-1", sender_fault=True, code="InvalidParameter")])
    report = relay(engine, sns).run_once()
    assert report.published == 5
    assert report.failed == 1
    assert pending(engine) == 1


def test_crash_between_publish_and_mark_republishes_the_same_event(engine: Engine) -> None:
    """Killed after SNS accepted the batch: the rows stay pending and go out again, same ids."""
    record_events(engine, 2)
    sns = FakeSns()

    def crash(_rows: object) -> None:
        raise Crash

    with pytest.raises(Crash):
        relay(engine, sns, after_publish=crash).run_once()
    assert pending(engine) == 2
    relay(engine, sns).run_once()
    assert sns.event_ids() == ["e-0", "e-1", "e-0", "e-1"]
    assert sns.messages[0]["Message"] == sns.messages[2]["Message"]
    assert pending(engine) == 0


def test_undecodable_row_is_kept_with_its_reason(engine: Engine) -> None:
    """A row whose body is not a v1 event (written by hand) stays pending, named, not sent."""
    record_events(engine, 1)
    with engine.begin() as conn:
        conn.execute(
            outbox_table.insert().values(
                event_id="bad",
                event_type="x",
                payment_id="p",
                body="{}",
                recorded_at=datetime.now(UTC),
            )
        )
    sns = FakeSns()
    report = relay(engine, sns).run_once()
    assert sns.event_ids() == ["e-0"]
    assert report.failed == 1
    with engine.connect() as conn:
        assert "undecodable" in outbox_status(conn)["last_error"]


def test_prune_removes_only_sent_rows_past_retention(engine: Engine) -> None:
    """Old sent rows go; recent sent rows and pending rows stay."""
    record_events(engine, 3)
    now = datetime.now(UTC)
    relay(engine, FakeSns(), clock=lambda: now - timedelta(days=8)).publish_pending()
    with engine.begin() as conn:
        record(conn, make_event(event_id="late"))
    pruner = relay(engine, FakeSns(), clock=lambda: now)
    assert pruner.prune() == 3
    with engine.connect() as conn:
        assert conn.execute(sa.select(outbox_table.c.event_id)).scalars().all() == ["late"]


def test_long_running_relay_picks_up_new_rows_until_stopped(engine: Engine) -> None:
    """run() keeps polling: rows recorded while it runs are published; stop ends it cleanly."""
    sns = FakeSns()
    stop = threading.Event()
    worker = relay(engine, sns, settings=RelaySettings(poll_interval=0.02))
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(worker.run(stop)))
    thread.start()
    record_events(engine, 3)
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    while len(sns.messages) < 3 and datetime.now(UTC) < deadline:
        threading.Event().wait(0.01)
    stop.set()
    thread.join(timeout=10)
    assert result[0].published == 3
    assert sns.event_ids() == ["e-0", "e-1", "e-2"]


def test_long_running_relay_backs_off_while_sns_is_down(engine: Engine) -> None:
    """SNS refusing every call: the loop waits between passes instead of spinning."""
    record_events(engine, 1)
    sns = FakeSns(entry_failures=[EntryFailure("e-0", times=10_000)])
    stop = threading.Event()
    settings = RelaySettings(backoff_initial=0.2, backoff_max=0.4, poll_interval=0.01)
    worker = relay(engine, sns, settings=settings)
    timer = threading.Timer(1.0, stop.set)
    timer.start()
    report = worker.run(stop)
    assert report.passes <= 8
    assert pending(engine) == 1


def test_long_running_relay_survives_a_database_outage(tmp_path: Path) -> None:
    """An unreachable outbox database is reported and retried, never a crash of the loop."""
    engine = make_engine(f"sqlite:///{tmp_path}/missing-dir/payments.sqlite3")
    settings = RelaySettings(backoff_initial=0.05, backoff_max=0.1)
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    report = relay(engine, FakeSns(), settings=settings).run(stop)
    assert report.passes >= 2
    assert report.errors
    assert report.errors[0].startswith("database: OperationalError")
