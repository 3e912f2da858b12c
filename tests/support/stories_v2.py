"""Hypothesis strategies for v2 stories: wire-format events, grants and rules documents.

Instants cluster around JST month boundaries and are written in several offsets, so the
same instant often appears in two spellings; campaigns start and end on such instants.
Events of one ``event_id`` always carry the same content (a changed copy is a rejection,
DESIGN §4.7, which these stories do not exercise).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hypothesis import strategies as st

from tests.support.factories import event_dict

#: Around the JST boundaries of Nov, Dec and Jan, in other offsets than +09:00 too.
TIMES = [
    "2026-10-31T14:59:59.999999Z",  # Oct 31 23:59:59.999999 JST
    "2026-10-31T15:00:00Z",  # Nov 1 00:00 JST
    "2026-11-01T00:00:00+09:00",  # the same instant
    "2026-11-15T12:00:00-05:00",
    "2026-11-30T09:59:59-05:00",  # Nov 30 23:59:59 JST
    "2026-11-30T10:00:00-05:00",  # Dec 1 00:00 JST
    "2026-12-01T05:30:00+05:30",
    "2026-12-15T00:00:00Z",
    "2026-12-31T23:00:00+09:00",
    "2026-12-31T15:00:00Z",  # Jan 1 00:00 JST
]
#: Candidate effective_from instants (distinct instants; None = since forever).
STARTS: list[str | None] = [
    None,
    "2026-11-01T00:00:00+09:00",
    "2026-11-15T12:00:00-05:00",
    "2026-11-30T15:00:00Z",  # Dec 1 00:00 JST in UTC
    "2026-12-01T00:00:00.000001+09:00",  # just after a month's first instant
]
AMOUNTS = [1, 99, 100, 1000, 1234, 9999, 50000]
KINDS = [
    "authorization",
    "authorization",
    "authorization_reversal",
    "clearing",
    "clearing",
    "refund",
    "refund_reversal",
    "chargeback",
    "chargeback_reversal",
]
MCCS = ["5411", "5499", "4829"]
COUNTRIES = ["JP", "US"]
CAPS = [None, None, 0, 3, 10, 40, 150, 100_000]
GRANT_POINTS = [-10_000_000, -500, -1, 1, 7, 300, 10_000_000]


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@st.composite
def payment_story(draw: st.DrawFn, payment_no: int, account_no: int) -> list[dict[str, Any]]:
    """1–6 events of one payment of any of the seven types; some declined, some final."""
    brand = draw(st.sampled_from(["visa", "quicpay"]))
    events: list[dict[str, Any]] = []
    for n in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(KINDS))
        event = event_dict(
            kind,
            event_id=f"p{payment_no}-e{n}",
            occurred_at=draw(st.sampled_from(TIMES)),
            brand=brand,
            payment_id=f"pay-{payment_no}",
            account_id=f"acct-{account_no}",
            amount=draw(st.sampled_from(AMOUNTS)),
            merchant={
                "name": "SHOP",
                "mcc": draw(st.sampled_from(MCCS)),
                "country": draw(st.sampled_from(COUNTRIES)),
            },
        )
        if kind == "authorization":
            event["approved"] = draw(st.sampled_from([True, True, False]))
        if kind == "clearing":
            event["final"] = draw(st.booleans())
        events.append(event)
    return events


@st.composite
def grant(draw: st.DrawFn, number: int) -> dict[str, Any]:
    """A ``points_grant`` of any sign for one of three accounts."""
    return {
        "schema_version": 1,
        "event_id": f"g{number}",
        "event_type": "points_grant",
        "occurred_at": draw(st.sampled_from(TIMES)),
        "account_id": f"acct-{draw(st.integers(1, 3))}",
        "points": draw(st.sampled_from(GRANT_POINTS)),
        "reason": draw(st.sampled_from(["reward", "referral", "campaign", "adjustment"])),
        "source": draw(st.sampled_from(["rewards", "referral-service", "ops"])),
    }


@st.composite
def stories(draw: st.DrawFn, max_payments: int = 5, max_grants: int = 3) -> list[dict[str, Any]]:
    """Several payments and grants over up to three accounts."""
    events: list[dict[str, Any]] = []
    for p in range(draw(st.integers(1, max_payments))):
        events += draw(payment_story(p, draw(st.integers(1, 3))))
    for g in range(draw(st.integers(0, max_grants))):
        events.append(draw(grant(g)))
    return events


def _scope(draw: st.DrawFn, campaign: dict[str, Any], key: str, values: list[str]) -> None:
    """Absent, empty or a non-empty subset (absent and empty both match all)."""
    choice = draw(st.sampled_from(["absent", "empty", "subset"]))
    if choice == "empty":
        campaign[key] = []
    elif choice == "subset":
        campaign[key] = draw(st.lists(st.sampled_from(values), min_size=1, unique=True))


@st.composite
def campaign(draw: st.DrawFn, number: int) -> dict[str, Any]:
    """A campaign whose window starts and ends on story instants (ends after starts)."""
    start = draw(st.sampled_from(TIMES[:-1]))
    end = draw(st.sampled_from([t for t in TIMES if _instant(t) > _instant(start)]))
    document: dict[str, Any] = {
        "id": f"c{number}",
        "starts_at": start,
        "ends_at": end,
        "bonus_bp": draw(st.sampled_from([1, 50, 100, 10_000])),
    }
    _scope(draw, document, "brands", ["visa", "quicpay"])
    _scope(draw, document, "mccs", MCCS)
    _scope(draw, document, "countries", COUNTRIES)
    return document


@st.composite
def rule_version(draw: st.DrawFn, effective_from: str | None) -> dict[str, Any]:
    """A complete version: rates, exclusions, maybe a cap, 0–3 campaigns."""
    document: dict[str, Any] = {
        "rates_bp": {
            "visa": draw(st.sampled_from([0, 100, 150, 10_000])),
            "quicpay": draw(st.sampled_from([0, 50, 100])),
        },
        "excluded_mccs": draw(st.lists(st.sampled_from(MCCS), max_size=2, unique=True)),
        "monthly_cap_points": draw(st.sampled_from(CAPS)),
        "campaigns": [draw(campaign(n)) for n in range(draw(st.integers(0, 3)))],
    }
    if effective_from is not None or draw(st.booleans()):
        document["effective_from"] = effective_from
    return document


@st.composite
def rules_documents(draw: st.DrawFn) -> dict[str, Any]:
    """``{"versions": [...]}`` with 1–3 versions at distinct effective_from instants."""
    starts = draw(st.lists(st.sampled_from(STARTS), min_size=1, max_size=3, unique=True))
    versions = [draw(rule_version(start)) for start in starts]
    return {"versions": draw(st.permutations(versions))}


@st.composite
def deliveries(draw: st.DrawFn, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A permutation of ``events`` with random duplicates (at-least-once, any order)."""
    extra = draw(st.lists(st.sampled_from(events), max_size=len(events))) if events else []
    return draw(st.permutations(events + extra))
