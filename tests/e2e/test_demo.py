"""``points demo`` on the embedded default: the whole story, exit 0."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from producers.stories_v2 import (
    ADJUSTMENT_ID,
    ADJUSTMENT_POINTS,
    ADJUSTMENT_REASON,
    CAMPAIGN_ID,
    CAROL_ACCOUNT,
    CAROL_RULES,
    CHARGED_BACK,
    MONTHLY_CAP,
    REFERRAL_POINTS,
    RULES_REASON,
    carol_payments,
    referral_grant,
)
from schemas.canonical import canonical_json
from tests.support import reference_v2
from tests.support.cli import run_points

CAMPAIGN_PAYMENT = "carol-1"


@pytest.fixture(scope="module")
def demo() -> subprocess.CompletedProcess[str]:
    return run_points("demo", timeout=300, env={"COLUMNS": "200"})


def test_demo_exits_zero(demo: subprocess.CompletedProcess[str]) -> None:
    """The demo starts its own AWS and databases and finishes cleanly."""
    assert demo.returncode == 0, demo.stderr


def test_demo_shows_provisional_then_confirmed_points(
    demo: subprocess.CompletedProcess[str],
) -> None:
    """Alice's ¥1,200 Visa payment shows 12 provisional points, then 12 confirmed."""
    rows = [line for line in demo.stdout.splitlines() if "acct-alice" in line and "│" in line]
    cells = [[c.strip() for c in row.split("│")[1:4]] for row in rows]
    assert ["acct-alice", "0", "12"] in cells
    assert ["acct-alice", "12", "0"] in cells


def test_demo_ends_with_the_ops_story(demo: subprocess.CompletedProcess[str]) -> None:
    """A poison event is shown with its reason; the crash-looped refund is redriven once."""
    assert "unsupported_schema_version" in demo.stdout
    assert '{"moved": 1, "skipped": 1, "failed": 0, "dry_run": false}' in demo.stdout
    assert "`points ledger verify`: clean" in demo.stdout


def _carol_reference() -> dict[str, Any]:
    """Chapter 4's expected state from the independent model (wire events, rules file)."""
    events: list[dict[str, Any]] = [json.loads(canonical_json(e)) for e in carol_payments()]
    events.append(json.loads(canonical_json(referral_grant())))
    events.append(
        {
            "event_type": "points_grant",
            "event_id": ADJUSTMENT_ID,
            "account_id": CAROL_ACCOUNT,
            "points": ADJUSTMENT_POINTS,
        }
    )
    return reference_v2.ledger(events, CAROL_RULES)


def _cells(stdout: str, first: str) -> list[list[str]]:
    """The cells of the table rows whose first cell starts with ``first``."""
    rows = [line for line in stdout.splitlines() if line.startswith("│")]
    cells = [[c.strip() for c in row.split("│")[1:-1]] for row in rows]
    return [c for c in cells if c and c[0].startswith(first)]


def test_demo_campaign_payment_earns_the_bonus_rate(
    demo: subprocess.CompletedProcess[str],
) -> None:
    """Carol's konbini payment in the campaign week shows base + bonus rate and its campaign."""
    expected = _carol_reference()["payments"][CAMPAIGN_PAYMENT]
    assert expected["campaigns"] == [CAMPAIGN_ID]
    row = [CAMPAIGN_PAYMENT, str(expected["rate_bp"]), CAMPAIGN_ID]
    assert [cells[:3] for cells in _cells(demo.stdout, CAMPAIGN_PAYMENT)] == [row]


def test_demo_month_is_credited_at_its_cap_despite_the_chargeback(
    demo: subprocess.CompletedProcess[str],
) -> None:
    """Carol's November earns over the cap; the chargeback zeroes its payment's earned points
    but the month stays above the cap, so credited stays at the cap."""
    state = _carol_reference()
    month = state["months"][(CAROL_ACCOUNT, "2026-11")]
    assert month["credited_confirmed"] == MONTHLY_CAP < month["earned_confirmed"]
    assert state["payments"][CHARGED_BACK]["confirmed"] == 0
    title = (
        f"2026-11 (cap {MONTHLY_CAP}): earned {month['earned_confirmed']} confirmed / 0 "
        f"provisional, credited {MONTHLY_CAP} confirmed / 0 provisional"
    )
    assert title in demo.stdout
    assert _cells(demo.stdout, CHARGED_BACK)[0][3] == "0"


def test_demo_balance_is_credited_plus_grants(demo: subprocess.CompletedProcess[str]) -> None:
    """Carol's balance and explain's balance are the capped month plus referral and
    adjustment."""
    confirmed = _carol_reference()["balances"][CAROL_ACCOUNT]["confirmed"]
    assert confirmed == MONTHLY_CAP + REFERRAL_POINTS + ADJUSTMENT_POINTS
    assert [CAROL_ACCOUNT, str(confirmed), "0"] in _cells(demo.stdout, CAROL_ACCOUNT)
    assert f"account {CAROL_ACCOUNT}: {confirmed} confirmed / 0 provisional" in demo.stdout
    grants = {tuple(c[1:5]) for c in _cells(demo.stdout, "2026-11-2")}
    assert ("referral-carol-1", f"+{REFERRAL_POINTS}", "referral", "referral-service") in grants
    assert (ADJUSTMENT_ID, f"+{ADJUSTMENT_POINTS}", "adjustment", "ops") in grants
    assert demo.stdout.count("`points ledger verify`: clean") == 2


def test_demo_adjustment_is_in_the_audit(demo: subprocess.CompletedProcess[str]) -> None:
    """The operator's adjustment and the rules publication are recorded with their reasons."""
    audit = {tuple(c[1:]) for c in _cells(demo.stdout, "") if len(c) == 4 and c[0].isdigit()}
    assert ("ledger adjust", "completed", ADJUSTMENT_REASON) in audit
    assert ("rules publish", "completed", RULES_REASON) in audit
