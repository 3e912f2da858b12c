"""Security checks of issue 9, part 5.

1. Logs: nothing of a rejected message's body, amount or account id reaches the worker's
   log (INFO and above), nor the failure journal.
2. SQL only through bound parameters: SQL-looking identifiers go through the ledger (SQLite
   and PostgreSQL), the ``points ledger``/``points dlq`` commands and the journal, are
   stored and printed verbatim, and every table survives; a static scan finds no SQL built
   by string formatting in the product code.
3. The CloudFormation template's guards live in ``tests/unit/test_cloudformation.py``
   (no IAM wildcard, encryption everywhere, every queue and subscription dead-letters,
   least-privilege worker/producer roles, TLS-only queue policies, single-service trust);
   ``test_cloudformation_guards_are_in_place`` below fails if any of them disappears.
"""

from __future__ import annotations

import ast
import asyncio
import io
import json
import logging
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from consumers.db import make_engine, upgrade
from consumers.journal import failures, record_failures
from consumers.points.store import open_store
from consumers.points.tables import ledger_balances, ledger_entries, ledger_events, ledger_payments
from consumers.runtime.memory import InMemoryTransport
from consumers.runtime.observability import configure_json_logging
from consumers.runtime.processing import BatchProcessor
from consumers.runtime.settings import WorkerSettings
from consumers.runtime.worker import Worker
from schemas.envelope import parse_event
from tests.support import reference
from tests.support.cli import run_points
from tests.support.factories import event_dict
from tests.support.ledger import ledger_on

ROOT = Path(__file__).resolve().parents[2]
SECRET_ACCOUNT = "acct-SECRET-7d1e"
SECRET_MERCHANT = "BODYMARK-merchant-91f0"
SECRET_AMOUNTS = [8_765_431, 8_765_432, 8_765_433, 98_765_432_109]


def _rejected_bodies() -> list[str]:
    """Rejected for every reason the worker has, each carrying the secrets."""
    merchant = {"name": SECRET_MERCHANT, "mcc": "5411", "country": "JP"}
    secret: dict[str, Any] = {"account_id": SECRET_ACCOUNT, "merchant": merchant}
    broken = json.dumps(event_dict(amount=SECRET_AMOUNTS[0], **secret))[:-3]
    return [
        broken,  # invalid_body
        json.dumps({"Type": "Notification", "Message": broken}),  # invalid_body (envelope)
        json.dumps({"Type": "Oops", "Message": broken}),  # invalid_envelope
        json.dumps(
            event_dict(event_id="bad-currency", currency="USD", amount=SECRET_AMOUNTS[1], **secret)
        ),
        json.dumps(event_dict(event_id="too-much", amount=SECRET_AMOUNTS[3], **secret)),
        json.dumps(event_dict(event_id="bad-version", schema_version=7, **secret)),
        # idempotency conflict with the applied "orig" below (other amount and account)
        json.dumps(
            event_dict(event_id="orig", payment_id="p-1", amount=SECRET_AMOUNTS[2], **secret)
        ),
        # payment conflict: payment p-1 belongs to acct-plain
        json.dumps(event_dict(event_id="other", payment_id="p-1", **secret)),
    ]


def test_rejected_messages_leave_no_body_amount_or_account_in_logs(
    sqlite_url: str, tmp_path: Path
) -> None:
    """Every rejection is logged (at WARNING) by ids and reason only; the journal likewise."""
    engine = make_engine(sqlite_url)
    upgrade(engine)
    ledger_on(engine).handle_batch(
        [parse_event(event_dict(event_id="orig", payment_id="p-1", account_id="acct-plain"))]
    )
    transport = InMemoryTransport()
    rejected = _rejected_bodies()
    for body in rejected:
        transport.send(body)
    settings = WorkerSettings(
        concurrency=1, wait_seconds=0, drain_idle_seconds=0.1, health_file=tmp_path / "health"
    )
    processor = BatchProcessor(
        transport, ledger_on(engine).handler, settings, journal=partial(record_failures, engine)
    )
    stream = io.StringIO()
    points_logger = logging.getLogger("points")
    saved = (points_logger.handlers[:], points_logger.level, points_logger.propagate)
    configure_json_logging(logging.INFO, stream)
    try:
        asyncio.run(Worker(transport, processor, settings, drain=True).run())
    finally:
        points_logger.handlers[:], points_logger.level, points_logger.propagate = saved
    log = stream.getvalue()
    with engine.connect() as connection:
        journal = json.dumps(
            [dict(r) for r in connection.execute(sa.select(failures)).mappings()], default=str
        )
    assert len(transport.dead_letters) == len(rejected)
    assert log.count('"dead-lettered"') == len(rejected)
    for secret in [SECRET_ACCOUNT, SECRET_MERCHANT, *map(str, SECRET_AMOUNTS), *rejected]:
        assert secret not in log
        assert secret not in journal


SQL_IDS = [
    "x'); DROP TABLE ledger_entries;--",
    "Robert'); DROP TABLE ledger_events; --",
    "' OR '1'='1",
    '"; DELETE FROM ledger_balances; --',
    "1; UPDATE ledger_payments SET confirmed = 999999",
    "%s %(x)s $1 :p0_0 ? \\",
]


def _sql_events() -> list[dict[str, Any]]:
    events = []
    for n, text in enumerate(SQL_IDS):
        ids = {"event_id": f"{text}#{n}", "payment_id": text, "account_id": text}
        events.append(event_dict("authorization", amount=10_000 + n, **ids))
        events.append(
            event_dict(
                "clearing", final=True, amount=10_000 + n, **{**ids, "event_id": f"{text}#c{n}"}
            )
        )
    return events


def _table_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            t.name: connection.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in (ledger_events, ledger_entries, ledger_payments, ledger_balances)
        }


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_sql_looking_ids_are_stored_verbatim_and_break_nothing(
    database: str, request: pytest.FixtureRequest
) -> None:
    """Through the ledger and the ``points ledger`` commands: verbatim, tables intact."""
    url: str = request.getfixturevalue("sqlite_url" if database == "sqlite" else "postgres_url")
    engine = make_engine(url)
    upgrade(engine)
    events = _sql_events()
    results = ledger_on(engine).handle_batch([parse_event(e) for e in events])
    assert {r.outcome.value for r in results} == {"applied"}
    # Redelivered: duplicates, recognised by the very same (hostile) ids.
    again = ledger_on(engine).handle_batch([parse_event(e) for e in events])
    assert {r.outcome.value for r in again} == {"duplicate"}
    assert _table_counts(engine) == {
        "ledger_events": len(events),
        "ledger_entries": len(events),
        "ledger_payments": len(SQL_IDS),
        "ledger_balances": len(SQL_IDS),
    }
    with engine.connect() as connection:
        stored = set(connection.execute(sa.select(ledger_events.c.event_id)).scalars())
    assert stored == {e["event_id"] for e in events}

    balances = run_points("--database-url", url, "ledger", "balances", "--json")
    assert json.loads(balances.stdout) == reference.ledger_state(events)[1]
    for text in SQL_IDS:
        view = open_store(engine).payment(text)
        assert view is not None
        assert asdict(view) == reference.ledger_state(events)[0][text]
        assert len(open_store(engine).history(text)) == 2
    for text in (SQL_IDS[0], SQL_IDS[-1]):  # and on the command line
        payment = run_points("--database-url", url, "ledger", "payment", text, "--json")
        assert payment.returncode == 0, payment.stderr
        assert json.loads(payment.stdout) == reference.ledger_state(events)[0][text]
        history = run_points("--database-url", url, "ledger", "history", text, "--json")
        assert history.returncode == 0, history.stderr
        assert len(json.loads(history.stdout)) == 2
    missing = run_points("--database-url", url, "ledger", "payment", "' OR 1=1 --", "--json")
    assert missing.returncode != 0
    assert "Traceback" not in missing.stderr
    verified = run_points("--database-url", url, "ledger", "verify", "--json")
    assert verified.returncode == 0, verified.stdout
    assert _table_counts(engine)["ledger_entries"] == len(events)
    engine.dispose()


@pytest.mark.slow
@pytest.mark.moto
def test_sql_looking_ids_through_the_dlq_commands_and_the_journal(
    aws: Any, sqlite_url: str, tmp_path: Path
) -> None:
    """A rejected event with a hostile id is journaled verbatim and found by ``dlq show`` and
    ``dlq redrive --id``/``--where`` with that id; nothing else is touched."""
    from infra.apply import apply_topology
    from infra.aws import sns_client, sqs_client
    from infra.resolve import topology
    from tests.support.dlq import dead_letter_like_worker

    applied = apply_topology(topology(aws), sns_client(aws.aws), sqs_client(aws.aws))
    queue = applied.queues["points"]
    sqs = sqs_client(aws.aws)
    engine = make_engine(sqlite_url)
    upgrade(engine)
    hostile = SQL_IDS[0]
    body = json.dumps(event_dict(event_id=hostile, payment_id=hostile, account_id=hostile))
    dead_letter_like_worker(sqs, queue.dlq_url, body, error_type="payment_conflict")
    dead_letter_like_worker(sqs, queue.dlq_url, json.dumps(event_dict(event_id="innocent")))
    env = {"POINTS_DATABASE_URL": sqlite_url}
    shown = run_points("dlq", "show", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    assert hostile in [item["event_id"] for item in json.loads(shown.stdout)]
    for selector in (["--id", hostile], ["--where", f"event_id={hostile}"]):
        dry = run_points("dlq", "redrive", *selector, "--dry-run", "--json", env=env)
        assert dry.returncode == 0, dry.stderr
        assert json.loads(dry.stdout)["moved"] == 1
    moved = run_points("dlq", "redrive", "--id", hostile, "--json", env=env)
    assert json.loads(moved.stdout) == {"moved": 1, "skipped": 1, "failed": 0, "dry_run": False}
    assert _table_counts(engine)["ledger_events"] == 0  # the DB was read, never changed
    engine.dispose()


SQL_CALLS = {"text", "execute", "exec_driver_sql", "executescript"}
#: Formatted SQL that is allowed, and why (no value from outside can reach it).
ALLOWED = {
    ("consumers/db.py", "PRAGMA busy_timeout"): "a module constant (integer)",
    ("producers/outbox.py", "INSERT INTO {TABLE_NAME}"): "the table name constant; values bound",
}


def _formatted_sql(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = getattr(node.func, "attr", getattr(node.func, "id", ""))
        argument = node.args[0]
        formatted = (
            isinstance(argument, ast.JoinedStr)
            or (isinstance(argument, ast.BinOp) and isinstance(argument.op, ast.Mod | ast.Add))
            or (isinstance(argument, ast.Call) and getattr(argument.func, "attr", "") == "format")
        )
        if name in SQL_CALLS and formatted:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(argument)[:60]}")
    return found


def test_product_code_builds_no_sql_from_formatted_strings() -> None:
    """``text()``/``execute()`` never get an f-string, ``%`` or ``.format`` (except the
    allow-listed constants): values travel as bound parameters only."""
    offenders = [
        hit
        for package in ("consumers", "ops", "producers", "infra", "schemas")
        for path in sorted((ROOT / package).rglob("*.py"))
        for hit in _formatted_sql(path)
        if not any(hit.startswith(f) and marker in hit for (f, marker) in ALLOWED)
    ]
    assert offenders == []


def test_cloudformation_guards_are_in_place() -> None:
    """The template checks of the infra issue exist (they run with the unit tests)."""
    source = (ROOT / "tests/unit/test_cloudformation.py").read_text()
    for guard in [
        "test_template_passes_cfn_lint",
        "test_no_iam_statement_grants_a_wildcard",
        "test_every_queue_and_topic_is_encrypted",
        "test_every_source_queue_and_subscription_dead_letters",
        "test_worker_role_reaches_only_its_own_queue_and_dlq",
        "test_every_role_trusts_exactly_one_aws_service",
        "test_producer_policy_may_only_publish_to_the_topic",
        "test_queue_policies_admit_only_the_topic_over_tls",
    ]:
        assert f"def {guard}(" in source, guard
