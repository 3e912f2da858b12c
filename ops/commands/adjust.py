"""``points ledger adjust ACCOUNT --points N --reason TEXT [--id KEY]``: an operator grant.

An adjustment is a ``points_grant`` (reason ``adjustment``, source ``ops``) published through
the producer library like every other event (DESIGN §6): the ledger applies it once per
``event_id`` whoever sends it and however often. So a retried command must send the very
same event: the command prints its ``event_id`` and ``occurred_at`` before publishing, and
the ``--id``/``--at`` that re-send it unchanged (a copy with other content would be refused
by the ledger as an idempotency conflict, never applied twice).

The operator audit is written before the event is published (a command that cannot record
refuses to act) and finished after, with the message id or the failure.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Final

import typer
from pydantic import ValidationError

from infra.aws import sns_client
from infra.resolve import topic_arn
from infra.settings import Config
from ops.audit import audited
from ops.commands.common import ReasonOption, one_line_errors, require_reason, say
from ops.output import JsonFlag, console, fail, print_json
from producers.publish import publish_event
from producers.publisher import PublishError, PublishUnavailable, SnsPublisher
from schemas.envelope import summarise_validation_error
from schemas.events import GrantReason, PointsGrant
from schemas.instants import canonical_instant

#: The ``source`` of every operator adjustment (DESIGN §6).
OPS_SOURCE: Final = "ops"
COMMAND: Final = "ledger adjust"


def adjust(
    ctx: typer.Context,
    account_id: Annotated[str, typer.Argument(help="The account to credit or debit.")],
    points: Annotated[
        int, typer.Option("--points", help="Points to add; negative takes points back (not 0).")
    ],
    reason: ReasonOption = None,
    event_id: Annotated[
        str | None,
        typer.Option("--id", help="The event_id (default: a new one). Reuse it to retry."),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="occurred_at, RFC 3339 (default: now). Reuse it to retry."),
    ] = None,
    memo: Annotated[
        str | None, typer.Option("--memo", help="Stored with the grant, never logged.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Publish a points grant (reason adjustment) for ACCOUNT, recorded in the audit."""
    config: Config = ctx.obj
    why = require_reason(reason, COMMAND)
    grant = adjustment(account_id, points, event_id=event_id, at=at, memo=memo)
    say(
        f"adjustment {grant.event_id} at {_at(grant)}: if this command fails, re-run it "
        f"with --id {grant.event_id} --at {_at(grant)} to retry safely"
    )
    with one_line_errors():
        message_id = _publish_audited(config, grant, why)
    result = {
        "event_id": grant.event_id,
        "account_id": grant.account_id,
        "points": grant.points,
        "occurred_at": _at(grant),
        "message_id": message_id,
    }
    if as_json:
        print_json(result)
    else:
        console.print(
            f"published adjustment {grant.event_id}: {grant.points:+,} points for "
            f"{grant.account_id} (message {message_id})",
            highlight=False,
        )


def adjustment(
    account_id: str,
    points: int,
    *,
    event_id: str | None = None,
    at: str | None = None,
    memo: str | None = None,
) -> PointsGrant:
    """The grant the command publishes, validated by the contract (one line if invalid)."""
    fields: dict[str, Any] = {
        "event_id": str(uuid.uuid4()) if event_id is None else event_id,
        "occurred_at": datetime.now(UTC) if at is None else at,
        "account_id": account_id,
        "points": points,
        "reason": GrantReason.ADJUSTMENT,
        "source": OPS_SOURCE,
        "memo": memo,
    }
    try:
        return PointsGrant.model_validate(fields)
    except ValidationError as exc:
        fail(f"invalid adjustment, nothing published: {summarise_validation_error(exc)}")


def _publish_audited(config: Config, grant: PointsGrant, reason: str) -> str:
    """Audit row first (refuse when it cannot be written), then the publish."""
    arguments = {
        "account_id": grant.account_id,
        "points": grant.points,
        "event_id": grant.event_id,
        "occurred_at": _at(grant),
        "memo": grant.memo is not None,  # whether there is one; its text is never logged
    }
    with audited(config, COMMAND, arguments=arguments, reason=reason) as action:
        sns = sns_client(config.aws)
        publisher = SnsPublisher(sns, topic_arn(config, sns))
        try:
            message_id = publish_event(grant, publisher=publisher)
        except (PublishError, PublishUnavailable) as exc:
            action.counts["error"] = f"{exc.code}: {exc}"
            fail(
                f"{exc.code}: {exc}; re-run with --id {grant.event_id} --at {_at(grant)} "
                "to retry safely",
                exit_code=1,
            )
        action.counts.update({"points": grant.points, "message_id": message_id})
    return message_id


def _at(grant: PointsGrant) -> str:
    """``occurred_at`` exactly as the event carries it (so ``--at`` re-sends the same)."""
    return canonical_instant(grant.occurred_at)
