"""``points ledger explain``: an account's story from its stored events (DESIGN §6).

The ledger applies real events on SQLite and PostgreSQL; the explanation is read back
through the store and the published rules, as the command reads it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from consumers.bootstrap import Ledger
from consumers.points.explain import Explanation
from consumers.points.publishing import publish_rules
from consumers.points.rules import parse_rules
from consumers.points.story import explain_story
from infra.settings import Config
from tests.support.cli import run_points
from tests.support.factories import event_dict
from tests.support.ledger import ledger_on
from tests.support.ledger_kit import apply_batches, migrated_engine_for

#: A version of 2099 (future-dated whenever these tests run): a cap and a campaign.
RULES_2099 = """{"versions": [{"effective_from": "2099-01-01T00:00:00+09:00",
  "rates_bp": {"visa": 100, "quicpay": 50}, "monthly_cap_points": 15,
  "campaigns": [{"id": "konbini", "starts_at": "2099-01-01T00:00:00+09:00",
                 "ends_at": "2099-01-15T00:00:00+09:00", "bonus_bp": 100, "mccs": ["5411"]}]}]}"""


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    engine = migrated_engine_for(request)
    yield engine
    engine.dispose()


def cleared(payment_id: str, amount: int, at: str, mcc: str = "5411") -> list[dict[str, Any]]:
    """An authorization and its final clearing at ``at``."""
    merchant = {"name": "SHOP", "mcc": mcc, "country": "JP"}
    common = {"payment_id": payment_id, "amount": amount, "occurred_at": at, "merchant": merchant}
    return [
        event_dict("authorization", event_id=f"{payment_id}-a", **common),
        event_dict("clearing", event_id=f"{payment_id}-c", final=True, **common),
    ]


def publish_2099(ledger: Ledger) -> None:
    """Publish ``RULES_2099`` (future-dated: nothing to recompute)."""
    publish_rules(
        ledger.store,
        parse_rules(RULES_2099),
        actor="t",
        reason="t",
        now=datetime.now(UTC),
        lead=timedelta(minutes=5),
    )


def explained(ledger: Ledger, month: str | None = None) -> Explanation:
    story = ledger.store.account_story("acct-1")
    return explain_story("acct-1", story, ledger.current_rules(), month)


def test_balance_is_the_months_credited_plus_grants(engine: Engine) -> None:
    """Payments in two months: the explained balance is the sum of the months' credited
    points, and it is the balance the ledger stored."""
    with ledger_on(engine) as ledger:
        apply_batches(
            ledger,
            [
                cleared("nov", 1000, "2026-11-21T10:00:00+09:00"),
                [
                    event_dict(
                        payment_id="dec", event_id="dec-a", occurred_at="2026-12-02T09:00:00Z"
                    )
                ],
            ],
        )
        explanation = explained(ledger)
        [stored] = ledger.store.balances("acct-1")
    assert [m.month for m in explanation.months] == ["2026-11", "2026-12"]
    assert explanation.reconciles
    assert (explanation.balance.confirmed, explanation.balance.provisional) == (
        stored.confirmed,
        stored.provisional,
    )


def test_a_capped_month_credits_the_cap(engine: Engine) -> None:
    """Two payments earning 20 in a month capped at 15: earned 20, credited 15."""
    with ledger_on(engine) as ledger:
        publish_2099(ledger)
        apply_batches(
            ledger,
            [
                cleared("one", 1000, "2099-01-20T10:00:00+09:00"),
                cleared("two", 1000, "2099-01-21T10:00:00+09:00"),
            ],
        )
        [january] = explained(ledger).months
    assert (january.totals.cap, january.totals.earned.confirmed) == (15, 20)
    assert january.totals.credited.confirmed == 15


def test_a_campaign_payment_shows_its_rate_and_campaign(engine: Engine) -> None:
    """A konbini payment inside the campaign earns base + bonus and names the campaign;
    one outside the campaign's MCCs earns the base rate with none."""
    with ledger_on(engine) as ledger:
        publish_2099(ledger)
        apply_batches(
            ledger,
            [
                cleared("konbini", 500, "2099-01-03T10:00:00+09:00"),
                cleared("fuel", 500, "2099-01-03T11:00:00+09:00", mcc="5541"),
            ],
        )
        document = explained(ledger, "2099-01").as_json()
    payments = document["months"][0]["payments"]
    assert [(p["payment_id"], p["rate_bp"], p["campaigns"]) for p in payments] == [
        ("konbini", 200, ["konbini"]),
        ("fuel", 100, []),
    ]


def test_the_command_prints_the_design_json(aws: Config, sqlite_url: str) -> None:
    """`points ledger explain ACCOUNT --json` prints the §6 document; an unknown account is
    one line and exit 2."""
    with ledger_on(sqlite_url, migrate=True) as ledger:
        apply_batches(ledger, [cleared("nov", 1000, "2026-11-21T10:00:00+09:00")])
    env = {"POINTS_DATABASE_URL": sqlite_url}
    done = run_points("ledger", "explain", "acct-1", "--json", env=env)
    unknown = run_points("ledger", "explain", "nobody", env=env)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert set(document) == {"account_id", "balance", "months", "grants"}
    assert document["balance"] == {"confirmed": 10, "provisional": 0}
    assert document["months"][0]["credited"] == {"confirmed": 10, "provisional": 0}
    assert unknown.returncode == 2
    assert "unknown account" in unknown.stderr
