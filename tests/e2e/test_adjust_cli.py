"""``points ledger adjust`` end to end on a moto server (DESIGN §6, issue 13): the grant
reaches the points queue through the producer library, the audit records it, a retry with
the printed ``--id``/``--at`` sends the very same event, and bad input publishes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from consumers.db import make_engine
from infra.apply import ApplyResult
from infra.aws import sqs_client
from infra.settings import Config
from ops import cli
from ops.audit import AuditEntry, AuditLog
from ops.output import CliError
from tests.support.cli import run_points
from tests.support.dlq import (  # noqa: F401 (pytest fixtures)
    attribute_values,
    aws_fixture,
    drain,
    ops_db_fixture,
    topo_fixture,
)

pytestmark = pytest.mark.moto

ADJUST = ("ledger", "adjust", "acct-7", "--points", "-250", "--reason", "ticket 42: double grant")


def invoke(*args: str) -> Result:
    """The ``points`` Typer app in this process (commands registered once)."""
    if not any(group.name == "ledger" for group in cli.app.registered_groups):
        cli._register()
    return CliRunner().invoke(cli.app, list(args))


def _points_queue(aws: Config, topo: ApplyResult) -> list[dict[str, Any]]:
    return drain(sqs_client(aws.aws), topo.queues["points"].url)


def _last_audit(ops_db: str) -> AuditEntry:
    log = AuditLog(make_engine(ops_db))
    try:
        return log.entries()[0]
    finally:
        log.close()


def test_an_adjustment_is_published_as_a_grant_and_audited(
    aws: Config, topo: ApplyResult, ops_db: str
) -> None:
    """The console script prints the documented JSON; the points queue holds one
    points_grant (reason adjustment, source ops) with contract attributes and no brand; the
    audit row names the command, the reason and the message id, never the memo's text."""
    result = run_points(*ADJUST, "--memo", "private note", "--json")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert set(printed) == {"event_id", "account_id", "points", "occurred_at", "message_id"}
    assert (printed["account_id"], printed["points"]) == ("acct-7", -250)
    assert f"re-run it with --id {printed['event_id']} --at {printed['occurred_at']}" in (
        result.stderr.replace("\n", " ")
    )
    (message,) = _points_queue(aws, topo)
    body = json.loads(message["Body"])
    assert body == {
        "schema_version": 1,
        "event_id": printed["event_id"],
        "event_type": "points_grant",
        "occurred_at": printed["occurred_at"],
        "account_id": "acct-7",
        "points": -250,
        "reason": "adjustment",
        "source": "ops",
        "memo": "private note",
    }
    assert attribute_values(message) == {"event_type": "points_grant", "schema_version": "1"}
    audit = _last_audit(ops_db)
    assert (audit.command, audit.outcome, audit.reason) == (
        "ledger adjust",
        "completed",
        "ticket 42: double grant",
    )
    assert audit.arguments["event_id"] == printed["event_id"]
    assert audit.counts == {"points": -250, "message_id": printed["message_id"]}
    assert "private note" not in json.dumps(audit.as_json())


def test_a_retry_with_the_printed_id_and_instant_sends_the_same_event(
    aws: Config, topo: ApplyResult
) -> None:
    """Re-running with ``--id``/``--at`` publishes the same event_id with the same content,
    which the ledger counts as a duplicate, not a second grant."""
    first = invoke(*ADJUST, "--id", "adj-42", "--json")
    assert first.exit_code == 0, first.output
    at = json.loads(first.stdout)["occurred_at"]
    again = invoke(*ADJUST, "--id", "adj-42", "--at", at, "--json")
    assert again.exit_code == 0, again.output
    bodies = [json.loads(m["Body"]) for m in _points_queue(aws, topo)]
    assert [b["event_id"] for b in bodies] == ["adj-42", "adj-42"]
    assert bodies[0] == bodies[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--points", "0", "--reason", "x"), "points: Value error, must not be 0"),
        (("--points", "10000001", "--reason", "x"), "points: Input should be less than or equal"),
        (("--points", "-10000001", "--reason", "x"), "points: Input should be greater than"),
        (("--points", "5", "--reason", " "), "ledger adjust needs --reason TEXT"),
        (("--points", "5"), "ledger adjust needs --reason TEXT"),
        (("--points", "5", "--reason", "x", "--at", "yesterday"), "occurred_at: Value error"),
        (("--points", "5", "--reason", "x", "--memo", "m" * 201), "memo: String should have"),
    ],
    ids=["zero", "over", "under", "blank reason", "no reason", "bad instant", "long memo"],
)
def test_invalid_adjustments_are_one_line_errors_and_publish_nothing(
    aws: Config, topo: ApplyResult, args: tuple[str, ...], message: str
) -> None:
    """Each refusal is a ``CliError`` (exit 2 from the console script) naming the problem;
    the points queue stays empty."""
    result = invoke("ledger", "adjust", "acct-7", *args)
    assert isinstance(result.exception, CliError)
    assert result.exception.exit_code == 2
    assert message in str(result.exception)
    assert "\n" not in str(result.exception)
    assert _points_queue(aws, topo) == []


def test_the_console_script_refuses_zero_points_in_one_line(aws: Config) -> None:
    """``--points 0``: one line on stderr, exit 2, no traceback."""
    result = run_points("ledger", "adjust", "acct-7", "--points", "0", "--reason", "x")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "must not be 0" in result.stderr
    assert "Traceback" not in result.stderr
