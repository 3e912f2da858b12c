"""``points ledger …`` as operators run it: DESIGN §6 JSON shapes, exit codes, errors.

Exit codes, one-line errors and the main JSON contract go through the real console script
in a child process. Starting ``points`` costs seconds on a loaded host, so the remaining
behaviours run the same Typer app in process (``invoke``), which still resolves settings
from the environment exactly as the script does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner, Result

from consumers.points.rules import parse_rules
from consumers.points.tables import ledger_balances, ledger_payments
from ops import cli
from ops.output import CliError
from tests.support.cli import run_points
from tests.support.factories import make_event
from tests.support.ledger import ledger_on
from tests.support.ledger_kit import migrated_engine, migrated_engine_for

PAYMENT_KEYS = [
    "payment_id",
    "account_id",
    "brand",
    "authorized",
    "reversed",
    "cleared",
    "refunded",
    "final",
    "expired",
    "confirmed",
    "provisional",
    "refund_reversed",
    "charged_back",
    "chargeback_reversed",
    "returned",
    "month",
    "rate_bp",
    "campaigns",
]


def invoke(*args: str, env: dict[str, str]) -> Result:
    """The ``points`` Typer app in this process (commands registered once)."""
    if not any(group.name == "ledger" for group in cli.app.registered_groups):
        cli._register()
    return CliRunner().invoke(cli.app, list(args), env=env)


@pytest.fixture
def database(sqlite_url: str) -> dict[str, str]:
    """A migrated SQLite ledger with two accounts; the env that points the CLI at it."""
    engine = migrated_engine(sqlite_url)
    ledger_on(engine).handle_batch(
        [
            make_event(
                event_id="a1",
                account_id="bob",
                payment_id="p-bob",
                amount=1000,
                occurred_at="2026-10-01T10:00:00+09:00",
            ),
            make_event(event_id="a2", account_id="alice", payment_id="p-alice", amount=2000),
            make_event(
                "clearing",
                event_id="c2",
                account_id="alice",
                payment_id="p-alice",
                amount=1500,
                final=True,
            ),
        ]
    )
    engine.dispose()
    return {"POINTS_DATABASE_URL": sqlite_url}


def test_balances_json_is_sorted_by_account(database: dict[str, str]) -> None:
    """``balances --json``: [{"account_id","confirmed","provisional"}] sorted by account_id."""
    result = run_points("ledger", "balances", "--json", env=database)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        {"account_id": "alice", "confirmed": 15, "provisional": 0},
        {"account_id": "bob", "confirmed": 0, "provisional": 10},
    ]


def test_payment_json_has_the_design_shape(database: dict[str, str]) -> None:
    """``payment ID --json`` prints the DESIGN §6 v1 keys, in that order, then the v2 keys."""
    result = invoke("ledger", "payment", "p-alice", "--json", env=database)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert list(document) == PAYMENT_KEYS
    assert document == {
        "payment_id": "p-alice",
        "account_id": "alice",
        "brand": "visa",
        "authorized": 2000,
        "reversed": 0,
        "cleared": 1500,
        "refunded": 0,
        "final": True,
        "expired": False,
        "confirmed": 15,
        "provisional": 0,
        "refund_reversed": 0,
        "charged_back": 0,
        "chargeback_reversed": 0,
        "returned": 0,
        "month": "2026-11",
        "rate_bp": 100,
        "campaigns": [],
    }


def test_unknown_payment_is_a_one_line_error(database: dict[str, str]) -> None:
    """An unknown payment id: exit 2, one line on stderr, no traceback."""
    result = run_points("ledger", "payment", "nope", env=database)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "unknown payment 'nope'" in result.stderr
    assert "Traceback" not in result.stderr


def test_history_lists_the_accounts_entries(database: dict[str, str]) -> None:
    """``history ACCOUNT --json`` lists one entry per applied event with its deltas."""
    result = invoke("ledger", "history", "alice", "--json", env=database)
    assert result.exit_code == 0, result.output
    entries = json.loads(result.stdout)
    assert [(e["event_id"], e["confirmed_delta"], e["provisional_delta"]) for e in entries] == [
        ("a2", 0, 20),
        ("c2", 15, -20),
    ]


def test_expire_releases_old_payments(database: dict[str, str]) -> None:
    """``expire --now --ttl-days --json`` names what it released; balances follow."""
    result = invoke(
        "ledger",
        "expire",
        "--now",
        "2026-11-21T10:00:00+09:00",
        "--ttl-days",
        "30",
        "--json",
        env=database,
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["expired"] == [
        {"payment_id": "p-bob", "account_id": "bob", "released": 10}
    ]
    balances = json.loads(invoke("ledger", "balances", "--json", env=database).stdout)
    assert balances[1] == {"account_id": "bob", "confirmed": 0, "provisional": 0}


def test_expire_refuses_a_naive_now(database: dict[str, str]) -> None:
    """``--now`` without an offset is bad input: exit 2, no traceback."""
    result = invoke("ledger", "expire", "--now", "2026-11-21T10:00:00", env=database)
    assert isinstance(result.exception, CliError)
    assert result.exception.exit_code == 2
    assert "--now" in str(result.exception)


def test_verify_clean_exits_zero(database: dict[str, str]) -> None:
    """``verify --json`` on a consistent ledger: clean, exit 0."""
    result = invoke("ledger", "verify", "--json", env=database)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["clean"] is True
    assert report["drifts"] == []


def test_verify_exits_one_on_drift(database: dict[str, str]) -> None:
    """A tampered balance makes ``verify`` report the drift and exit 1."""
    engine = sa.create_engine(database["POINTS_DATABASE_URL"])
    with engine.begin() as connection:
        connection.execute(sa.update(ledger_balances).values(confirmed=1234))
    engine.dispose()
    result = run_points("ledger", "verify", env=database)
    assert result.returncode == 1
    assert "DRIFT balance" in result.stdout


def test_verify_refuses_a_rules_file_the_ledger_has_not_published(
    database: dict[str, str], tmp_path: Path
) -> None:
    """Rules are data (DESIGN §4.6): verify computes with the rules published in the ledger
    database; a ``POINTS_RULES_FILE`` holding other versions is refused with one line that
    names the fix, never used to judge the stored points."""
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"versions": [{"rates_bp": {"visa": 300, "quicpay": 50}}]}))
    result = run_points("ledger", "verify", env={**database, "POINTS_RULES_FILE": str(rules)})
    assert result.returncode == 2
    assert "points rules publish" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_invalid_rules_file_is_a_one_line_error(database: dict[str, str], tmp_path: Path) -> None:
    """A broken rules file: exit 2 with the reason, no traceback."""
    rules = tmp_path / "rules.json"
    rules.write_text("{not json")
    result = run_points("ledger", "verify", env={**database, "POINTS_RULES_FILE": str(rules)})
    assert result.returncode == 2
    assert "invalid rules file" in result.stderr
    assert "Traceback" not in result.stderr


def test_unmigrated_database_is_refused(tmp_path: Path) -> None:
    """Every ledger command refuses a database that is not migrated, naming the fix."""
    env = {"POINTS_DATABASE_URL": f"sqlite:///{tmp_path}/empty.sqlite3"}
    result = run_points("ledger", "balances", env=env)
    assert result.returncode == 2
    assert "points db upgrade" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.postgres
def test_balances_on_postgresql(postgres_url: str) -> None:
    """The commands work the same against PostgreSQL."""
    engine = migrated_engine(postgres_url)
    ledger_on(engine).handle_batch([make_event(amount=5000)])
    engine.dispose()
    result = invoke("ledger", "balances", "--json", env={"POINTS_DATABASE_URL": postgres_url})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"account_id": "acct-1", "confirmed": 0, "provisional": 50}
    ]


def test_balances_page_and_next_page_hint(database: dict[str, str]) -> None:
    """``balances --limit 1 --json``: the §6 list of the first account only, and on stderr
    the ``--after`` that gives the next page; the last page has no hint."""
    first = invoke("ledger", "balances", "--limit", "1", "--json", env=database)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout) == [{"account_id": "alice", "confirmed": 15, "provisional": 0}]
    assert "--after alice" in first.stderr
    second = invoke(
        "ledger", "balances", "--limit", "1", "--after", "alice", "--json", env=database
    )
    assert [row["account_id"] for row in json.loads(second.stdout)] == ["bob"]
    assert second.stderr == ""


def test_balances_of_one_account_on_the_command_line(database: dict[str, str]) -> None:
    """``balances --account bob``: that account's row only."""
    result = invoke("ledger", "balances", "--account", "bob", "--json", env=database)
    assert json.loads(result.stdout) == [{"account_id": "bob", "confirmed": 0, "provisional": 10}]


def test_history_pages_with_after_and_before(database: dict[str, str]) -> None:
    """``history --limit 1``: the oldest entry and a ``--after`` hint; ``--after`` gives the
    next; ``--before`` the one before it, with a ``--before`` hint only while more remain."""
    first = invoke("ledger", "history", "alice", "--limit", "1", "--json", env=database)
    [oldest] = json.loads(first.stdout)
    assert oldest["event_id"] == "a2"
    assert f"--after {oldest['entry_id']}" in first.stderr
    cursor = str(oldest["entry_id"])
    second = invoke("ledger", "history", "alice", "--after", cursor, "--json", env=database)
    [newest] = json.loads(second.stdout)
    assert (newest["event_id"], second.stderr) == ("c2", "")
    back = invoke(
        "ledger", "history", "alice", "--before", str(newest["entry_id"]), "--json", env=database
    )
    assert [e["event_id"] for e in json.loads(back.stdout)] == ["a2"]
    assert back.stderr == ""


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--account", "bob"], (1, 1)),
        (["--from", "alice", "--to", "alice"], (1, 2)),
        (["--from", "b"], (1, 1)),
    ],
    ids=["account", "range", "open-range"],
)
def test_verify_of_an_account_or_range(
    database: dict[str, str], flags: list[str], expected: tuple[int, int]
) -> None:
    """``verify --account``/``--from``/``--to``: the §6 report over those accounts only
    (bob has one event, alice two)."""
    result = invoke("ledger", "verify", *flags, "--json", env=database)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert list(report) == ["clean", "events", "entries", "payments", "accounts", "drifts"]
    assert (report["accounts"], report["events"]) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["balances", "--limit", "0"], "--limit 0: expected a positive number"),
        (["balances", "--limit", "-5"], "--limit -5: expected a positive number"),
        (["balances", "--account", "bob", "--after", "a"], "takes no --after"),
        (["history", "alice", "--limit", "-1"], "--limit -1: expected a positive number"),
        (["history", "alice", "--after", "1", "--before", "3"], "pass one cursor"),
        (["verify", "--account", "bob", "--to", "c"], "takes no --from/--to"),
        (["verify", "--from", "b", "--to", "a"], "sorts after --to"),
    ],
    ids=["zero", "negative", "account-after", "history-negative", "two-cursors", "mixed", "range"],
)
def test_bad_paging_values_are_refused(
    database: dict[str, str], args: list[str], expected: str
) -> None:
    """Bad limits, cursors and ranges are operator errors (exit 2) naming the flag."""
    result = invoke("ledger", *args, env=database)
    assert isinstance(result.exception, CliError)
    assert result.exception.exit_code == 2
    assert expected in str(result.exception)


def test_a_bad_limit_is_one_line_on_the_command_line(database: dict[str, str]) -> None:
    """``balances --limit -1`` through the real script: one line, exit 2, no traceback."""
    result = run_points("ledger", "balances", "--limit", "-1", env=database)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "--limit -1" in result.stderr


#: The built-in rates with a konbini campaign over November 2026 (JST).
KONBINI_NOVEMBER = """{"versions": [{"rates_bp": {"visa": 100, "quicpay": 50},
  "campaigns": [{"id": "konbini", "starts_at": "2026-11-01T00:00:00+09:00",
                 "ends_at": "2026-12-01T00:00:00+09:00", "bonus_bp": 100, "mccs": ["5411"]}]}]}"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_engine(request: pytest.FixtureRequest) -> Iterator[sa.Engine]:
    """A migrated, empty ledger on SQLite or PostgreSQL."""
    engine = migrated_engine_for(request)
    yield engine
    engine.dispose()


def payment_json(engine: sa.Engine, payment_id: str) -> dict[str, object]:
    """``ledger payment ID --json`` of the ledger in ``engine``."""
    env = {"POINTS_DATABASE_URL": engine.url.render_as_string(False)}
    result = invoke("ledger", "payment", payment_id, "--json", env=env)
    assert result.exit_code == 0, result.output
    document: dict[str, object] = json.loads(result.stdout)
    assert list(document) == PAYMENT_KEYS
    return document


def test_a_chargeback_payment_shows_what_was_returned(any_engine: sa.Engine) -> None:
    """Cleared ¥5,000, refunded ¥1,000, charged back ¥2,000 of which ¥500 came back:
    ``refunded`` stays Σ refund (v1), ``returned`` = 1,000 + 2,000 − 500 and the points are
    those of the ¥2,500 left."""
    with ledger_on(any_engine) as ledger:
        ledger.handle_batch(
            [
                make_event(event_id="a", amount=5000),
                make_event("clearing", event_id="c", amount=5000, final=True),
                make_event("refund", event_id="r", amount=1000),
                make_event("chargeback", event_id="cb", amount=2000),
                make_event("chargeback_reversal", event_id="cr", amount=500),
            ]
        )
    document = payment_json(any_engine, "pay-1")
    assert {key: document[key] for key in PAYMENT_KEYS[3:15]} == {
        "authorized": 5000,
        "reversed": 0,
        "cleared": 5000,
        "refunded": 1000,
        "final": True,
        "expired": False,
        "confirmed": 25,
        "provisional": 0,
        "refund_reversed": 0,
        "charged_back": 2000,
        "chargeback_reversed": 500,
        "returned": 2500,
    }


def test_a_campaign_payment_shows_its_rate_and_campaigns(any_engine: sa.Engine) -> None:
    """A konbini authorization inside the campaign: base 100 + bonus 100 bp, the campaign
    named, its JST month; the v1 keys are what they were (earned points at that rate)."""
    with ledger_on(any_engine, rules=parse_rules(KONBINI_NOVEMBER)) as ledger:
        ledger.handle_batch([make_event(event_id="a", amount=500)])
    document = payment_json(any_engine, "pay-1")
    assert (document["month"], document["rate_bp"], document["campaigns"]) == (
        "2026-11",
        200,
        ["konbini"],
    )
    assert (document["authorized"], document["confirmed"], document["provisional"]) == (500, 0, 10)


def test_a_payment_last_written_by_the_v1_ledger_has_no_known_rate(
    database: dict[str, str],
) -> None:
    """A row migration 0005 left without a rate: ``rate_bp`` is null and ``campaigns``
    empty in JSON; the table for people says ``unknown`` and ``-``."""
    engine = sa.create_engine(database["POINTS_DATABASE_URL"])
    with engine.begin() as connection:
        connection.execute(
            sa.update(ledger_payments)
            .where(ledger_payments.c.payment_id == "p-alice")
            .values(rate_bp=None, campaigns=None)
        )
    document = payment_json(engine, "p-alice")
    engine.dispose()
    assert (document["rate_bp"], document["campaigns"], document["confirmed"]) == (None, [], 15)
    table = invoke("ledger", "payment", "p-alice", env=database)
    assert table.exit_code == 0, table.output
    for key, shown in (("rate_bp", "unknown"), ("campaigns", "-"), ("month", "2026-11")):
        assert re.search(rf"\b{key}\W+{re.escape(shown)}\W", table.stdout), table.stdout
