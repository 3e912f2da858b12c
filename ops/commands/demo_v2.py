"""``points demo`` chapter 4: the v2 program (DESIGN §4) on carol's November.

Rules are published as data through the library function of ``points rules publish``
(backdated: the story's payments are in the past; alice's and bob's earlier payments are
recomputed and earn the same under the new version); carol's payments go through
the outbox and the relay, the referral service publishes a grant with the producer
library, and the operator's adjustment goes through ``points ledger adjust``'s audited
publish. Then ``points ledger explain`` and ``points audit`` tell the story.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING

from rich.table import Table

from consumers.points.rules import parse_rules
from consumers.points.story import explain_story
from infra.aws import sns_client
from ops.audit import AuditLog
from ops.commands.adjust import adjustment, publish_adjustment
from ops.commands.explain import print_explanation
from ops.commands.rules import publish_audited
from ops.output import console
from producers.publish import publish_event
from producers.publisher import SnsPublisher
from producers.stories import DEMO_START
from producers.stories_v2 import (
    ADJUSTMENT_ID,
    ADJUSTMENT_POINTS,
    ADJUSTMENT_REASON,
    CAROL_ACCOUNT,
    CAROL_RULES,
    RULES_REASON,
    carol_payments,
    referral_grant,
)
from schemas.instants import canonical_instant

if TYPE_CHECKING:
    from ops.commands.demo import Story


def tell_v2(story: Story) -> None:
    """Rules, payments, a chargeback, a referral and an adjustment; then explain and audit."""
    console.rule("4. v2: a campaign, a monthly cap, a chargeback, grants")
    publish_demo_rules(story)
    story.pay(carol_payments())
    sns = SnsPublisher(sns_client(story.config.aws), story.topic_arn)
    grant = referral_grant()
    publish_event(grant, publisher=sns)
    console.print(
        f"referral-service published a points_grant: {grant.points:+,} points "
        f"(reason {grant.reason}) for {grant.account_id}",
        highlight=False,
    )
    # As `--id` and `--at` would give them: a short id and a time in the story's week.
    adjust = adjustment(
        CAROL_ACCOUNT,
        ADJUSTMENT_POINTS,
        event_id=ADJUSTMENT_ID,
        at=canonical_instant(DEMO_START + timedelta(days=8)),
    )
    publish_adjustment(story.config, adjust, ADJUSTMENT_REASON)
    console.print(
        f"`points ledger adjust {CAROL_ACCOUNT} --points {ADJUSTMENT_POINTS} --reason ...` "
        f"published {adjust.event_id}",
        highlight=False,
    )
    story.consume("points")
    story.print_balances()
    console.rule(f"`points ledger explain {CAROL_ACCOUNT}`")
    rules = story.ledger.current_rules()
    stored = story.ledger.store.account_story(CAROL_ACCOUNT)
    print_explanation(explain_story(CAROL_ACCOUNT, stored, rules))
    report = story.ledger.verify()
    console.print(f"`points ledger verify`: {'clean' if report.clean else 'DRIFT'}")
    print_audit(story)


def publish_demo_rules(story: Story) -> None:
    """``points rules publish rules.json --backdate --reason ...``, in-process."""
    incoming = parse_rules(json.dumps(CAROL_RULES))
    result, _ = publish_audited(
        story.config, story.ledger, incoming, reason=RULES_REASON, backdate=True, file="rules.json"
    )
    console.print(
        f"`points rules publish --backdate`: revision {result.revision}, from "
        f"{CAROL_RULES['versions'][0]['effective_from']}: cap "
        f"{CAROL_RULES['versions'][0]['monthly_cap_points']} points a month, campaign "
        f"konbini-week (+200 bp at MCC 5411, 23-29 Nov); {result.corrected_payments} "
        "earlier payment(s) recomputed (alice's and bob's: before the campaign, under the "
        "cap, they earn the same)",
        highlight=False,
    )


def print_audit(story: Story) -> None:
    """``points audit``: the operator's actions of the demo, newest first."""
    log = AuditLog.open(story.config.points.database_url)
    try:
        entries = log.entries()
    finally:
        log.close()
    table = Table(title="points audit")
    for column in ("id", "command", "outcome", "reason"):
        table.add_column(column)
    for entry in entries:
        table.add_row(str(entry.id), entry.command, entry.outcome, entry.reason or "-")
    console.print(table)
