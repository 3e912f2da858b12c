"""The scale benchmark's workload: an endless stream of payment stories, in bounded memory.

``ScaleWorkload`` yields batches of decoded events as a card issuer's queue delivers them:
the stories of the chaos workload (authorization → clearing, incremental authorizations,
partial and full reversals, under/over/split clearings, force posts, declines, a reversal
older than its authorization, partial and exceeding refunds, excluded MCCs, ¥1 amounts),
spread over ``Mix.accounts`` accounts and ``Mix.months`` months, each event delivered at
its own time (a clearing days after its authorization, a refund weeks later), a share
delivered twice and a few re-sent with other content (idempotency conflicts, rejected).
With ``Mix.v2`` it adds the v2 stories: chargebacks (some reversed), refund reversals and
points grants.

Memory stays bounded whatever the length of the run: stories are generated in time order
and only the events not yet due wait in a heap, as compact tuples; an event object is
built when it is delivered. Time is virtual (story ``n`` starts ``n`` intervals after the
first), so a run of any length spans the same months.

The benchmarks import nothing from ``tests``: the stories are written again here, after
``tests/chaos/workload.py``'s templates, with weights of a card book rather than one of
each.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from schemas.events import (
    Authorization,
    AuthorizationReversal,
    Brand,
    Chargeback,
    ChargebackReversal,
    Clearing,
    GrantReason,
    Merchant,
    PointsGrant,
    Refund,
    RefundReversal,
)

HOUR: Final = 3600
DAY: Final = 24 * HOUR
#: The first story's instant: the start of June 2026 in Japan (UTC+9).
EPOCH: Final = datetime(2026, 5, 31, 15, 0, tzinfo=UTC)
HOT_ACCOUNT: Final = "acct-hot"
#: Average events per story of the v1 mix (measured), to spread a run over its months.
EVENTS_PER_STORY: Final = 2.3

SHOPS: Final = (
    Merchant(name="LAWSON", mcc="5411", country="JP"),
    Merchant(name="FAMILYMART", mcc="5499", country="JP"),
    Merchant(name="SEVEN-ELEVEN", mcc="5411", country="JP"),
    Merchant(name="SUSHIRO", mcc="5812", country="JP"),
    Merchant(name="UNIQLO", mcc="5651", country="JP"),
    Merchant(name="JR EAST", mcc="4111", country="JP"),
    Merchant(name="AMAZON", mcc="5999", country="US"),
    Merchant(name="ANA", mcc="4511", country="JP"),
)
EXCLUDED_SHOPS: Final = (
    Merchant(name="REMIT", mcc="4829", country="JP"),
    Merchant(name="CRYPTO", mcc="6051", country="JP"),
    Merchant(name="PREPAID", mcc="6540", country="JP"),
    Merchant(name="CITY TAX", mcc="9311", country="JP"),
)

#: One step of a story: (delivered after, occurred after, type, amount, approved/final).
#: Offsets in seconds from the story's start; the flag is ``approved`` for authorizations,
#: ``final`` for clearings, ignored otherwise.
Step = tuple[int, int, str, int, bool]
Template = Callable[[random.Random, int], list[Step]]

AUTH, REV, CLEAR, REFUND = "authorization", "authorization_reversal", "clearing", "refund"
REFUND_REV, CHARGEBACK, CHARGEBACK_REV = "refund_reversal", "chargeback", "chargeback_reversal"


def _at(offset: int) -> tuple[int, int]:
    return offset, offset


def _clearing_delay(rng: random.Random) -> int:
    return DAY + int(rng.random() * 2 * DAY)


def purchase(rng: random.Random, a: int) -> list[Step]:
    return [(0, 0, AUTH, a, True), (*_at(_clearing_delay(rng)), CLEAR, a, True)]


def incremental_authorization(rng: random.Random, a: int) -> list[Step]:
    b = rng.randint(100, 5_000)
    later = rng.randint(HOUR, 8 * HOUR)
    return [
        (0, 0, AUTH, a, True),
        (*_at(later), AUTH, b, True),
        (*_at(later + _clearing_delay(rng)), CLEAR, a + b, True),
    ]


def partial_reversal(rng: random.Random, a: int) -> list[Step]:
    return [(0, 0, AUTH, a, True), (*_at(rng.randint(60, DAY)), REV, max(1, a // 3), False)]


def full_reversal(rng: random.Random, a: int) -> list[Step]:
    return [(0, 0, AUTH, a, True), (*_at(rng.randint(60, DAY)), REV, a, False)]


def under_clearing(rng: random.Random, a: int) -> list[Step]:
    return [(0, 0, AUTH, a, True), (*_at(_clearing_delay(rng)), CLEAR, a - a // 4, False)]


def over_clearing(rng: random.Random, a: int) -> list[Step]:
    return [(0, 0, AUTH, a, True), (*_at(_clearing_delay(rng)), CLEAR, a + a // 5 + 1, True)]


def split_clearings_without_final(rng: random.Random, a: int) -> list[Step]:
    first = _clearing_delay(rng)
    return [
        (0, 0, AUTH, a, True),
        (*_at(first), CLEAR, max(1, a // 2), False),
        (*_at(first + DAY), CLEAR, max(1, a // 4), False),
    ]


def split_clearings_with_final(rng: random.Random, a: int) -> list[Step]:
    first, half = _clearing_delay(rng), max(1, a // 2)
    return [
        (0, 0, AUTH, a, True),
        (*_at(first), CLEAR, half, False),
        (*_at(first + DAY), CLEAR, max(1, a - half), True),
    ]


def force_post(rng: random.Random, a: int) -> list[Step]:
    return [(0, 0, CLEAR, a, True)]


def declined_authorization(rng: random.Random, a: int) -> list[Step]:
    return [(0, 0, AUTH, a, False)]


def clearing_after_declined(rng: random.Random, a: int) -> list[Step]:
    return [(0, 0, AUTH, a, False), (*_at(_clearing_delay(rng)), CLEAR, a, True)]


def reversal_before_authorization(rng: random.Random, a: int) -> list[Step]:
    """The reversal arrives first and happened first (a clock skew between systems)."""
    return [(0, -60, REV, max(1, a // 2), False), (30, 0, AUTH, a, True)]


def _refunded(rng: random.Random, a: int, refund: int) -> list[Step]:
    return [
        *purchase(rng, a),
        (*_at(rng.randint(4 * DAY, 25 * DAY)), REFUND, refund, False),
    ]


def partial_refund(rng: random.Random, a: int) -> list[Step]:
    return _refunded(rng, a, max(1, a // 3))


def exceeding_refund(rng: random.Random, a: int) -> list[Step]:
    return _refunded(rng, a, min(a * 2, 10_000_000))


def yen_one(rng: random.Random, a: int) -> list[Step]:
    return [(0, 0, AUTH, 1, True), (*_at(DAY), CLEAR, 1, True), (*_at(2 * HOUR), AUTH, 99, True)]


def chargeback(rng: random.Random, a: int) -> list[Step]:
    return [*purchase(rng, a), (*_at(rng.randint(10 * DAY, 20 * DAY)), CHARGEBACK, a, False)]


def chargeback_reversed(rng: random.Random, a: int) -> list[Step]:
    return [*chargeback(rng, a), (*_at(rng.randint(21 * DAY, 28 * DAY)), CHARGEBACK_REV, a, False)]


def refund_reversed(rng: random.Random, a: int) -> list[Step]:
    half = max(1, a // 2)
    return [*_refunded(rng, a, half), (*_at(26 * DAY), REFUND_REV, half, False)]


#: Stories per 1,000 payments: most payments are a plain purchase.
V1_WEIGHTS: Final[tuple[tuple[Template, int], ...]] = (
    (purchase, 520),
    (incremental_authorization, 50),
    (partial_reversal, 40),
    (full_reversal, 40),
    (under_clearing, 30),
    (over_clearing, 20),
    (split_clearings_without_final, 20),
    (split_clearings_with_final, 50),
    (force_post, 30),
    (declined_authorization, 50),
    (clearing_after_declined, 10),
    (reversal_before_authorization, 10),
    (partial_refund, 80),
    (exceeding_refund, 10),
    (yen_one, 10),
)
#: Excluded-MCC purchases are a template of ``purchase`` at another shop (per 1,000).
EXCLUDED_PER_MILLE: Final = 30
V2_WEIGHTS: Final[tuple[tuple[Template, int], ...]] = (
    (chargeback, 10),
    (chargeback_reversed, 5),
    (refund_reversed, 10),
)
#: Points grants (rewards, referrals, adjustments) per 1,000 payment stories, with v2.
GRANTS_PER_MILLE: Final = 20
GRANT_REASONS: Final = (GrantReason.REWARD, GrantReason.REFERRAL, GrantReason.CAMPAIGN)


@dataclass(frozen=True)
class Mix:
    """What the stream holds; ``events`` only spreads the run over ``months``."""

    events: int = 5_000_000
    accounts: int = 100_000
    months: int = 6
    #: Share of stories on ``HOT_ACCOUNT`` (the hot-account run: 0.5).
    hot_share: float = 0.0
    #: Skewed accounts (a few heavy spenders) when true, uniform otherwise.
    skewed: bool = True
    v2: bool = False
    duplicate_share: float = 0.05
    conflict_share: float = 0.0002
    seed: int = 16


def _story_table(v2: bool) -> list[Template]:
    """A slot per mille of payment stories; ``random.choice`` over it picks by weight."""
    weights = V1_WEIGHTS + (V2_WEIGHTS if v2 else ())
    return [template for template, weight in weights for _ in range(weight)]


# A pending delivery: (due, sequence, kind, payload). ``kind`` is "step" (payload: the
# story's identity and the step) or "again" (payload: an event already delivered).
_Pending = tuple[int, int, str, Any]


class ScaleWorkload:
    """Batches of events, forever; ``stats`` counts what was delivered."""

    def __init__(self, mix: Mix, batch_size: int = 100) -> None:
        self.mix = mix
        self.batch_size = batch_size
        self.rng = random.Random(mix.seed)
        self.table = _story_table(mix.v2)
        stories = max(1.0, mix.events / EVENTS_PER_STORY)
        self.interval = max(1, int(mix.months * 30 * DAY / stories))
        self.pending: list[_Pending] = []
        self.sequence = 0
        self.payments = 0
        self.grants = 0
        self.stats: Counter[str] = Counter()
        #: Each step type's model and the name of its flag field.
        self.types: dict[str, tuple[Any, str]] = {
            AUTH: (Authorization, "approved"),
            REV: (AuthorizationReversal, ""),
            CLEAR: (Clearing, "final"),
            REFUND: (Refund, ""),
            REFUND_REV: (RefundReversal, ""),
            CHARGEBACK: (Chargeback, ""),
            CHARGEBACK_REV: (ChargebackReversal, ""),
        }

    def __iter__(self) -> Iterator[list[Any]]:
        batch: list[Any] = []
        story = 0
        while True:
            now = story * self.interval
            self._start_story(now)
            story += 1
            while self.pending and self.pending[0][0] <= now:
                batch.append(self._deliver(heapq.heappop(self.pending)))
                if len(batch) == self.batch_size:
                    yield batch
                    batch = []

    def account(self) -> str:
        rng, mix = self.rng, self.mix
        if mix.hot_share and rng.random() < mix.hot_share:
            return HOT_ACCOUNT
        # Skewed: density ∝ 1/√k, so the heaviest accounts spend hundreds of times more.
        draw = rng.random() ** 2 if mix.skewed else rng.random()
        return f"acct-{int(draw * mix.accounts):06d}"

    def payment_id(self, n: int) -> str:
        return f"pay-{n:09d}"

    def _start_story(self, now: int) -> None:
        rng = self.rng
        if self.mix.v2 and rng.random() * 1000 < GRANTS_PER_MILLE:
            self.grants += 1
            self._push(now, "grant", (self.grants, self.account(), now))
        self.payments += 1
        # ``int(random() * n)`` rather than ``randrange``: a third of the cost, same spread.
        draw = rng.random
        template = self.table[int(draw() * len(self.table))]
        shop = SHOPS[int(draw() * len(SHOPS))]
        if template is purchase and draw() * 1000 < EXCLUDED_PER_MILLE:
            shop = EXCLUDED_SHOPS[int(draw() * len(EXCLUDED_SHOPS))]
        brand = Brand.QUICPAY if template is force_post or draw() < 0.4 else Brand.VISA
        amount = 100 + int(draw() * 29_900) if draw() < 0.85 else 30_000 + int(draw() * 270_000)
        identity = (self.payments, self.account(), brand, shop, now)
        self.stats[template.__name__] += 1
        for index, step in enumerate(template(rng, amount)):
            self._push(now + step[0], "step", (identity, index, step))

    def _push(self, due: int, kind: str, payload: Any) -> None:
        self.sequence += 1
        heapq.heappush(self.pending, (due, self.sequence, kind, payload))

    def _deliver(self, pending: _Pending) -> Any:
        due, _, kind, payload = pending
        if kind == "again":
            self.stats["redelivered"] += 1
            return payload
        roll, mix = self.rng.random(), self.mix
        if kind == "grant":
            event: Any = self._grant(*payload)
        else:
            event = self._payment_event(*payload)
            if mix.duplicate_share <= roll < mix.duplicate_share + mix.conflict_share:
                self.stats["conflicting"] += 1
                other = event.model_copy(update={"amount": event.amount + 1})
                self._push(due + 60 + int(roll * HOUR), "again", other)
        if roll < mix.duplicate_share:
            self._push(due + 60 + int(roll * HOUR), "again", event)
        self.stats[str(event.event_type)] += 1
        return event

    def _payment_event(self, identity: tuple[Any, ...], index: int, step: Step) -> Any:
        n, account, brand, shop, start = identity
        _, occurred, kind, amount, flag = step
        payment_id = self.payment_id(n)
        common = {
            "event_id": f"{payment_id}-{index}",
            "occurred_at": EPOCH + timedelta(seconds=start + occurred),
            "brand": brand,
            "payment_id": payment_id,
            "account_id": account,
            "amount": amount,
            "currency": "JPY",
            "merchant": shop,
        }
        model, flag_name = self.types[kind]
        if flag_name:
            common[flag_name] = flag
        return model(**common)

    def _grant(self, n: int, account: str, now: int) -> PointsGrant:
        rng = self.rng
        adjustment = rng.random() < 0.1
        return PointsGrant(
            event_id=f"grant-{n:09d}",
            occurred_at=EPOCH + timedelta(seconds=now),
            account_id=account,
            points=-rng.randint(1, 200) if adjustment else rng.randint(10, 1_000),
            reason=GrantReason.ADJUSTMENT if adjustment else rng.choice(GRANT_REASONS),
            source="scale-bench",
        )


#: The rules of the scale run (DESIGN §4.6), published as the ledger's first rules: the
#: base rates, then a monthly cap and campaigns (konbini in summer, dining in autumn,
#: a year-end bonus on every brand), so caps and campaigns are computed on every payment.
RULES: Final[dict[str, Any]] = {
    "versions": [
        {
            "effective_from": "2026-06-01T00:00:00+09:00",
            "rates_bp": {"visa": 100, "quicpay": 50},
            "excluded_mccs": ["4829", "6051", "6540", "9311"],
            "monthly_cap_points": None,
            "campaigns": [
                {
                    "id": "summer-konbini",
                    "starts_at": "2026-07-01T00:00:00+09:00",
                    "ends_at": "2026-09-01T00:00:00+09:00",
                    "bonus_bp": 100,
                    "brands": ["visa"],
                    "mccs": ["5411", "5499"],
                    "countries": ["JP"],
                }
            ],
        },
        {
            "effective_from": "2026-09-01T00:00:00+09:00",
            "rates_bp": {"visa": 100, "quicpay": 50},
            "excluded_mccs": ["4829", "6051", "6540", "9311"],
            "monthly_cap_points": 1200,
            "campaigns": [
                {
                    "id": "autumn-dining",
                    "starts_at": "2026-09-15T00:00:00+09:00",
                    "ends_at": "2026-11-15T00:00:00+09:00",
                    "bonus_bp": 50,
                    "brands": [],
                    "mccs": ["5812"],
                    "countries": ["JP"],
                },
                {
                    "id": "year-end",
                    "starts_at": "2026-11-15T00:00:00+09:00",
                    "ends_at": "2027-01-01T00:00:00+09:00",
                    "bonus_bp": 25,
                },
            ],
        },
    ]
}
