"""The demo's v2 story (DESIGN §4 v2): carol's month under a campaign and a monthly cap.

``points demo`` publishes ``CAROL_RULES`` (one version from 1 November 2026 JST: the
built-in rates, a konbini campaign for the last week of November and a cap of 100 points
per account-month), then carol's Visa payments, a chargeback, a referral grant from the
referral service, and the operator's adjustment (``points ledger adjust``).

The campaign and the cap leave alice's and bob's November untouched: their payments are
before the campaign (or QUICPay) and earn less than the cap, so the backdated publication
recomputes them to the same points. Expected numbers are computed by the tests from the reference
model, never here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from producers.stories import DEMO_START, JST
from schemas.events import (
    Authorization,
    Brand,
    Chargeback,
    Clearing,
    GrantReason,
    Merchant,
    PaymentEvent,
    PointsGrant,
)

CAROL_ACCOUNT: Final = "acct-carol"
CAMPAIGN_ID: Final = "konbini-week"
MONTHLY_CAP: Final = 100
REFERRAL_POINTS: Final = 300
ADJUSTMENT_POINTS: Final = 50
ADJUSTMENT_ID: Final = "ops-adjust-carol-1"
ADJUSTMENT_REASON: Final = "goodwill: delivery arrived late (ticket 4711)"
RULES_REASON: Final = "November program: konbini week and a monthly cap"
#: The rule version the demo publishes (a ``points rules publish`` file).
CAROL_RULES: Final[dict[str, Any]] = {
    "versions": [
        {
            "effective_from": "2026-11-01T00:00:00+09:00",
            "rates_bp": {"visa": 100, "quicpay": 50},
            "excluded_mccs": ["4829", "6051", "6540", "9311"],
            "monthly_cap_points": MONTHLY_CAP,
            "campaigns": [
                {
                    "id": CAMPAIGN_ID,
                    "starts_at": "2026-11-23T00:00:00+09:00",
                    "ends_at": "2026-11-30T00:00:00+09:00",
                    "bonus_bp": 200,
                    "brands": ["visa"],
                    "mccs": ["5411"],
                    "countries": ["JP"],
                }
            ],
        }
    ]
}
#: (payment_id, merchant, MCC, yen, days after DEMO_START): the konbini one is in the
#: campaign; the others push carol's November over its cap.
_PURCHASES: Final = (
    ("carol-1", "LAWSON", "5411", 2000, 3),
    ("carol-2", "SUSHIRO", "5812", 3000, 4),
    ("carol-3", "BIC CAMERA", "5732", 4000, 5),
    ("carol-4", "SUSHIRO", "5812", 2000, 6),
)
#: The disputed purchase: the card network charges it back in full.
CHARGED_BACK: Final = "carol-3"


def carol_payments(at: datetime = DEMO_START) -> list[PaymentEvent]:
    """Authorization and final clearing of each purchase, then the chargeback."""
    events: list[PaymentEvent] = []
    disputed: tuple[dict[str, Any], datetime] | None = None
    for payment_id, name, mcc, amount, days in _PURCHASES:
        when = at + timedelta(days=days)
        common: dict[str, Any] = {
            "account_id": CAROL_ACCOUNT,
            "brand": Brand.VISA,
            "payment_id": payment_id,
            "amount": amount,
            "currency": "JPY",
            "merchant": Merchant(name=name, mcc=mcc, country="JP"),
        }
        events.append(Authorization(event_id=f"{payment_id}-auth", occurred_at=when, **common))
        cleared = when + timedelta(days=1)
        events.append(
            Clearing(event_id=f"{payment_id}-clear", occurred_at=cleared, final=True, **common)
        )
        if payment_id == CHARGED_BACK:
            disputed = (common, cleared)
    assert disputed is not None
    common, cleared = disputed
    events.append(
        Chargeback(event_id=f"{CHARGED_BACK}-cb", occurred_at=cleared + timedelta(days=1), **common)
    )
    return events


def referral_grant(at: datetime = DEMO_START) -> PointsGrant:
    """The referral service credits carol for a friend who joined."""
    return PointsGrant(
        event_id="referral-carol-1",
        occurred_at=(at + timedelta(days=7)).astimezone(JST),
        account_id=CAROL_ACCOUNT,
        points=REFERRAL_POINTS,
        reason=GrantReason.REFERRAL,
        source="referral-service",
        memo="invited acct-dave",
    )
