"""The chaos run's workload: payment stories covering every edge case of the ledger issue.

Each story is one payment built from a template named after the edge case it exercises
(issue 3: declined and incremental authorization, partial/full reversal, under/over
clearing, split clearings with/without ``final``, force post, clearing after a decline,
a reversal that happened before its authorization, partial/exceeding refunds, excluded
MCC, ¥1 amounts). 30 % of the events are delivered twice and the whole delivery list is
shuffled. Expected balances come from the ledger engineer's independent reference model
(``tests.support.reference``), never from the code under test.

Deliberate permanent rejections, chosen so that the expected DLQ set is exact:

- 2 idempotency conflicts and 2 payment conflicts (account, brand), published only once
  the events they contradict are applied (otherwise which copy "wins" depends on order);
- 1 schema-invalid event and 1 broken body, published in the main stream.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from tests.support.factories import event_dict

T0: Final = "2026-11-20T10:00:00+09:00"
T1: Final = "2026-11-20T18:30:00+09:00"
T2: Final = "2026-11-22T09:00:00+09:00"
T3: Final = "2026-11-25T12:00:00+09:00"
EARLY: Final = "2026-11-19T23:59:59+09:00"
BROKEN_BODY: Final = '{"chaos": "broken body", '


@dataclass
class Story:
    case: str
    payment_id: str
    account_id: str
    brand: str
    mcc: str = "5411"
    events: list[dict[str, Any]] = field(default_factory=list)

    def add(self, kind: str, amount: int, at: str, **extra: Any) -> Story:
        n = len(self.events)
        self.events.append(
            event_dict(
                kind,
                event_id=f"{self.payment_id}-{n}-{kind[:4]}",
                payment_id=self.payment_id,
                account_id=self.account_id,
                brand=self.brand,
                amount=amount,
                occurred_at=at,
                merchant={"name": "SHOP", "mcc": self.mcc, "country": "JP"},
                **extra,
            )
        )
        return self


Template = Callable[[Story, random.Random], None]


def _amount(rng: random.Random) -> int:
    return rng.choice([rng.randint(100, 30_000), rng.randint(30_000, 300_000)])


def declined_authorization(s: Story, rng: random.Random) -> None:
    s.add("authorization", _amount(rng), T0, approved=False)


def incremental_authorization(s: Story, rng: random.Random) -> None:
    a, b = _amount(rng), _amount(rng)
    s.add("authorization", a, T0).add("authorization", b, T1).add("clearing", a + b, T2, final=True)


def partial_reversal(s: Story, rng: random.Random) -> None:
    a = _amount(rng)
    s.add("authorization", a, T0).add("authorization_reversal", a // 3, T1)


def full_reversal(s: Story, rng: random.Random) -> None:
    a = _amount(rng)
    s.add("authorization", a, T0).add("authorization_reversal", a, T1)


def under_clearing(s: Story, rng: random.Random) -> None:
    a = _amount(rng)
    s.add("authorization", a, T0).add("clearing", a - a // 4, T2)


def over_clearing(s: Story, rng: random.Random) -> None:
    a = _amount(rng)
    s.add("authorization", a, T0).add("clearing", a + a // 5 + 1, T2, final=True)


def split_clearings_without_final(s: Story, rng: random.Random) -> None:
    a = _amount(rng)
    s.add("authorization", a, T0).add("clearing", a // 2, T1).add("clearing", a // 4, T2)


def split_clearings_with_final(s: Story, rng: random.Random) -> None:
    a = _amount(rng)
    first = a // 2
    s.add("authorization", a, T0).add("clearing", first, T1)
    s.add("clearing", a - first, T2, final=True)


def force_post(s: Story, rng: random.Random) -> None:
    s.add("clearing", _amount(rng), T2, final=True)


def clearing_after_declined(s: Story, rng: random.Random) -> None:
    a = _amount(rng)
    s.add("authorization", a, T0, approved=False).add("clearing", a, T2, final=True)


def reversal_before_authorization(s: Story, rng: random.Random) -> None:
    a = _amount(rng)
    s.add("authorization_reversal", a // 2, EARLY).add("authorization", a, T0)


def partial_refund(s: Story, rng: random.Random) -> None:
    a = _amount(rng)
    s.add("authorization", a, T0).add("clearing", a, T2, final=True).add("refund", a // 3, T3)


def exceeding_refund(s: Story, rng: random.Random) -> None:
    a = _amount(rng)
    s.add("authorization", a, T0).add("clearing", a, T2, final=True).add("refund", a * 2, T3)


def excluded_mcc(s: Story, rng: random.Random) -> None:
    s.mcc = rng.choice(["4829", "6051", "6540", "9311"])
    a = _amount(rng)
    s.add("authorization", a, T0).add("clearing", a, T2, final=True)


def yen_one(s: Story, rng: random.Random) -> None:
    s.add("authorization", 1, T0).add("clearing", 1, T2, final=True).add("authorization", 99, T1)


TEMPLATES: Final[list[Template]] = [
    declined_authorization,
    incremental_authorization,
    partial_reversal,
    full_reversal,
    under_clearing,
    over_clearing,
    split_clearings_without_final,
    split_clearings_with_final,
    force_post,
    clearing_after_declined,
    reversal_before_authorization,
    partial_refund,
    exceeding_refund,
    excluded_mcc,
    yen_one,
]


@dataclass
class Workload:
    stories: list[Story]
    #: Every distinct valid event; exactly these must end up applied.
    events: list[dict[str, Any]]
    #: The main stream, in publishing order: events (30 % twice) plus two invalid messages.
    deliveries: list[str]
    #: Published once ``waits_for`` event ids are applied: the deliberate conflicts.
    late: list[dict[str, Any]]
    waits_for: list[str]
    #: What must sit in the DLQ: message key (event id or body marker) -> reason.
    rejections: dict[str, str]
    duplicates: int


def rejection_key(body: str) -> str:
    """How a DLQ message is recognised: its event id, or the broken body itself."""
    try:
        document = json.loads(body)
    except ValueError:
        return body
    event_id = document.get("event_id") if isinstance(document, dict) else None
    return str(event_id) if event_id is not None else body


def build(seed: int, *, per_template: int = 5, accounts: int = 12) -> Workload:
    rng = random.Random(seed)
    stories: list[Story] = []
    for n in range(per_template * len(TEMPLATES)):
        template = TEMPLATES[n % len(TEMPLATES)]
        story = Story(
            case=template.__name__,
            payment_id=f"cp-{n:03d}",
            account_id=f"ca-{rng.randrange(accounts):02d}",
            brand="quicpay" if template is force_post else rng.choice(["visa", "quicpay"]),
        )
        template(story, rng)
        stories.append(story)
    events = [e for s in stories for e in s.events]
    twice = rng.sample(events, round(len(events) * 0.3))
    invalid = dict(event_dict("clearing", event_id="chaos-invalid-amount"), amount=0)
    deliveries = [json.dumps(e) for e in events + twice] + [json.dumps(invalid), BROKEN_BODY]
    rng.shuffle(deliveries)

    targets = rng.sample([s for s in stories if s.events], 4)
    late = [
        dict(targets[0].events[0], amount=targets[0].events[0]["amount"] + 1),
        dict(targets[1].events[-1], occurred_at=T3),
        dict(targets[2].events[0], event_id=f"{targets[2].payment_id}-x-acct", account_id="zz"),
        dict(
            targets[3].events[0],
            event_id=f"{targets[3].payment_id}-x-brand",
            brand="visa" if targets[3].brand == "quicpay" else "quicpay",
        ),
    ]
    rejections = {
        late[0]["event_id"]: "idempotency_conflict",
        late[1]["event_id"]: "idempotency_conflict",
        late[2]["event_id"]: "payment_conflict",
        late[3]["event_id"]: "payment_conflict",
        "chaos-invalid-amount": "invalid_event",
        BROKEN_BODY: "invalid_body",
    }
    waits_for = [e["event_id"] for t in targets for e in t.events]
    return Workload(stories, events, deliveries, late, waits_for, rejections, len(twice))
