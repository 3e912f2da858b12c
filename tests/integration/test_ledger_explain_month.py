"""``points ledger explain ACCOUNT --month M``: bounded by the month (issue #16).

Month M is recomputed from the events of the payments the ledger counts in it, the other
months' credited points come from their stored rows (``consumers.points.story``). On a
consistent ledger that is exactly the month's slice of the whole explanation; these tests
check it on SQLite and PostgreSQL for a story with several months, a payment whose anchor
moved to an earlier month, grants in several months (one negative, one in a month without
payments), a capped month and an expired payment — and that the drift check still fires
when month M's stored credit is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from typer.testing import CliRunner, Result

from consumers.bootstrap import Ledger
from consumers.points.story import explain_month_story, explain_story
from consumers.points.tables import ledger_balances, ledger_months
from ops import cli
from tests.integration.test_ledger_explain import cleared, publish_2099
from tests.support.factories import event_dict, grant_dict
from tests.support.ledger import ledger_on
from tests.support.ledger_kit import apply_batches, migrated_engine_for

ACCOUNT = "acct-1"
#: Every month of the story, and one after it.
MONTHS = ["2099-01", "2099-02", "2099-03", "2099-04", "2099-05"]
#: Long after March's open authorization: the expiry job releases it.
EXPIRY_NOW = datetime(2099, 6, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    engine = migrated_engine_for(request)
    yield engine
    engine.dispose()


def grant(event_id: str, points: int, at: str) -> dict[str, Any]:
    return grant_dict(event_id=event_id, points=points, occurred_at=at)


def tell_the_story(ledger: Ledger) -> None:
    """January earns 20 under the cap of 15; ``moved`` is authorized in March, then an
    earlier authorization of it (February) arrives late and moves its anchor; ``open`` in
    March is never cleared and expires; grants in January, March (negative) and April."""
    publish_2099(ledger)
    moved: dict[str, Any] = {
        "payment_id": "moved",
        "merchant": {"name": "S", "mcc": "5541", "country": "JP"},
    }
    apply_batches(
        ledger,
        [
            cleared("one", 1000, "2099-01-20T10:00:00+09:00"),
            cleared("two", 1000, "2099-01-21T10:00:00+09:00"),
            [
                event_dict(
                    event_id="moved-a2",
                    amount=300,
                    occurred_at="2099-03-02T10:00:00+09:00",
                    **moved,
                ),
                event_dict(
                    event_id="open-a", payment_id="open", occurred_at="2099-03-05T10:00:00+09:00"
                ),
                grant("g-jan", 5, "2099-01-25T10:00:00+09:00"),
            ],
            [
                event_dict(
                    event_id="moved-a1",
                    amount=700,
                    occurred_at="2099-02-27T10:00:00+09:00",
                    **moved,
                ),
                event_dict(
                    "clearing",
                    event_id="moved-c",
                    amount=1000,
                    final=True,
                    occurred_at="2099-03-10T10:00:00+09:00",
                    **moved,
                ),
                grant("g-mar", -3, "2099-03-31T23:00:00+09:00"),
                grant("g-apr", 7, "2099-04-01T00:00:00+09:00"),
            ],
        ],
    )
    assert [e.payment_id for e in ledger.expire(now=EXPIRY_NOW)] == ["open"]


def month_document(ledger: Ledger, month: str) -> dict[str, Any]:
    """What ``explain --month`` computes: the month's story through the store."""
    story = ledger.store.month_story(ACCOUNT, month)
    return explain_month_story(ACCOUNT, story, ledger.current_rules()).as_json()


def sliced_document(ledger: Ledger, month: str) -> dict[str, Any]:
    """The whole story's explanation, filtered to ``month``."""
    story = ledger.store.account_story(ACCOUNT)
    return explain_story(ACCOUNT, story, ledger.current_rules(), month).as_json()


def invoke(engine: Engine, *args: str) -> Result:
    """``points`` in this process, on the test's database."""
    if not any(group.name == "ledger" for group in cli.app.registered_groups):
        cli._register()
    url = engine.url.render_as_string(hide_password=False)
    return CliRunner().invoke(cli.app, list(args), env={"POINTS_DATABASE_URL": url})


def test_each_month_is_the_slice_of_the_whole_explanation(engine: Engine) -> None:
    """Every month (and one without anything) equals the whole explanation's slice: the
    same month line, payments, grants and balance."""
    with ledger_on(engine) as ledger:
        tell_the_story(ledger)
        for month in MONTHS:
            assert month_document(ledger, month) == sliced_document(ledger, month), month


def test_the_story_has_what_the_slices_are_checked_for(engine: Engine) -> None:
    """January is capped, ``moved`` counts in February (its anchor moved), March's ``open``
    expired (no provisional points), and the grants spread over three months."""
    with ledger_on(engine) as ledger:
        tell_the_story(ledger)
        months = {m: month_document(ledger, m) for m in MONTHS}
    [january] = months["2099-01"]["months"]
    assert (january["cap"], january["earned"]["confirmed"], january["credited"]["confirmed"]) == (
        15,
        20,
        15,
    )
    assert [p["payment_id"] for p in months["2099-02"]["months"][0]["payments"]] == ["moved"]
    [march] = months["2099-03"]["months"]
    assert [(p["payment_id"], p["provisional"]) for p in march["payments"]] == [("open", 0)]
    assert [[g["event_id"] for g in d["grants"]] for d in months.values()] == [
        ["g-jan"],
        [],
        ["g-mar"],
        ["g-apr"],
        [],
    ]


def test_the_command_prints_the_design_json_for_a_month(engine: Engine) -> None:
    """`explain ACCOUNT --month M --json` prints the §6 document, the whole explanation's
    slice, and exits 0 on a consistent ledger."""
    with ledger_on(engine) as ledger:
        tell_the_story(ledger)
        expected = sliced_document(ledger, "2099-02")
    result = invoke(engine, "ledger", "explain", ACCOUNT, "--month", "2099-02", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {"account_id", "balance", "months", "grants"}
    assert set(document["months"][0]) == {"month", "cap", "earned", "credited", "payments"}
    assert document == expected


def _credit_too_much(engine: Engine, month: str, points: int) -> None:
    """The stored month row and the balance say ``month`` credited ``points`` more than its
    events give (consistent with each other, wrong against the events)."""
    m, b = ledger_months.c, ledger_balances.c
    with engine.begin() as connection:
        connection.execute(
            sa.update(ledger_months)
            .where(m.account_id == ACCOUNT, m.month == month)
            .values(credited_confirmed=m.credited_confirmed + points)
        )
        connection.execute(
            sa.update(ledger_balances)
            .where(b.account_id == ACCOUNT)
            .values(confirmed=b.confirmed + points)
        )


def test_a_wrong_credit_in_the_month_asked_about_is_a_drift(engine: Engine) -> None:
    """January's stored credit (and so the balance) 4 points too high: `explain --month
    2099-01` recomputes January from its events, reports the drift and exits 1."""
    with ledger_on(engine) as ledger:
        tell_the_story(ledger)
    _credit_too_much(engine, "2099-01", 4)
    result = invoke(engine, "ledger", "explain", ACCOUNT, "--month", "2099-01", "--json")
    assert result.exit_code == 1
    assert "drift" in result.stderr


def test_a_wrong_credit_in_another_month_is_left_to_verify(engine: Engine) -> None:
    """The same wrong January seen from February: --month trusts the other months' stored
    rows (as documented), so the drift is `explain` without --month's and verify's."""
    with ledger_on(engine) as ledger:
        tell_the_story(ledger)
    _credit_too_much(engine, "2099-01", 4)
    february = invoke(engine, "ledger", "explain", ACCOUNT, "--month", "2099-02", "--json")
    whole = invoke(engine, "ledger", "explain", ACCOUNT, "--json")
    assert february.exit_code == 0, february.output
    assert whole.exit_code == 1
    assert "drift" in whole.stderr
