"""``points ledger explain`` assembled from facts, grants and rules (DESIGN §6 shape)."""

from __future__ import annotations

from typing import Any

from consumers.points.explain import explain
from tests.support.v2_kit import (
    campaign,
    grant_wire,
    grants_of,
    payments_of,
    rules_with,
    version,
    wire,
)

RULES = rules_with(
    version(
        cap=300,
        excluded=["4829"],
        campaigns=[campaign("xmas", "2026-12-01T00:00:00+09:00", "2026-12-26T00:00:00+09:00", 100)],
    )
)
STORY: list[dict[str, Any]] = [
    wire("clearing", 10_000, payment="nov", at="2026-11-20T10:00:00+09:00"),
    wire("clearing", 12_000, payment="xmas-1", at="2026-12-03T10:00:00+09:00"),
    wire("authorization", 5000, payment="xmas-2", at="2026-12-04T10:00:00+09:00"),
    wire("clearing", 9000, payment="wire", at="2026-12-05T10:00:00+09:00", mcc="4829"),
    wire("clearing", 1000, payment="other", account="acct-2"),
    grant_wire(500, at="2026-12-10T10:00:00+09:00", reason="referral", event_id="ref-1"),
    grant_wire(-50, at="2026-11-25T10:00:00+09:00", event_id="adj-1"),
]


def _explained(month: str | None = None) -> dict[str, Any]:
    return explain("acct-1", payments_of(STORY), grants_of(STORY), RULES, month).as_json()


def test_explain_tells_the_story_of_an_account() -> None:
    """Per month the cap, earned and credited points, each payment's rate and campaigns;
    then the grants; a December over its cap of 300 credits 300 of 340 earned."""
    assert _explained() == {
        "account_id": "acct-1",
        "balance": {"confirmed": 100 + 240 - 50 + 500, "provisional": 60},
        "months": [
            {
                "month": "2026-11",
                "cap": 300,
                "earned": {"confirmed": 100, "provisional": 0},
                "credited": {"confirmed": 100, "provisional": 0},
                "payments": [
                    {
                        "payment_id": "nov",
                        "rate_bp": 100,
                        "campaigns": [],
                        "confirmed": 100,
                        "provisional": 0,
                    }
                ],
            },
            {
                "month": "2026-12",
                "cap": 300,
                "earned": {"confirmed": 240, "provisional": 100},
                "credited": {"confirmed": 240, "provisional": 60},
                "payments": [
                    {
                        "payment_id": "xmas-1",
                        "rate_bp": 200,
                        "campaigns": ["xmas"],
                        "confirmed": 240,
                        "provisional": 0,
                    },
                    {
                        "payment_id": "xmas-2",
                        "rate_bp": 200,
                        "campaigns": ["xmas"],
                        "confirmed": 0,
                        "provisional": 100,
                    },
                    {
                        "payment_id": "wire",
                        "rate_bp": 0,
                        "campaigns": [],
                        "confirmed": 0,
                        "provisional": 0,
                    },
                ],
            },
        ],
        "grants": [
            {
                "event_id": "adj-1",
                "occurred_at": "2026-11-25T01:00:00+00:00",
                "points": -50,
                "reason": "adjustment",
                "source": "ops",
            },
            {
                "event_id": "ref-1",
                "occurred_at": "2026-12-10T01:00:00+00:00",
                "points": 500,
                "reason": "referral",
                "source": "ops",
            },
        ],
    }


def test_explained_balance_reconciles() -> None:
    """balance = Σ months' credited + Σ grants."""
    assert explain("acct-1", payments_of(STORY), grants_of(STORY), RULES).reconciles


def test_explain_of_one_month_keeps_the_whole_balance() -> None:
    """``--month 2026-11``: November and its grant only; the balance is still the account's."""
    november = _explained("2026-11")
    assert [m["month"] for m in november["months"]] == ["2026-11"]
    assert [g["event_id"] for g in november["grants"]] == ["adj-1"]
    assert november["balance"] == _explained()["balance"]


def test_explain_of_an_unknown_account_is_empty() -> None:
    """No payments and no grants: no months, no grants, a zero balance."""
    got = explain("nobody", payments_of(STORY), grants_of(STORY), RULES).as_json()
    assert got == {
        "account_id": "nobody",
        "balance": {"confirmed": 0, "provisional": 0},
        "months": [],
        "grants": [],
    }
