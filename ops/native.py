"""``points dlq redrive --native``: a whole-queue move done by SQS (StartMessageMoveTask).

Fast (up to 500 messages/s, SQS's documented ceiling) but without a filter, without a
per-message record and without the redrive mark: its copies, failing again, come back
unmarked. Audited like any redrive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from infra.aws import sqs_client
from infra.resolve import topology
from infra.settings import Config
from ops.audit import audited
from ops.dlq_queues import find_dlq, queue_arn, resolve
from ops.errors import NativeRedriveUnsupported, SelectionError
from ops.redrive import RedriveSummary
from ops.scan import queue_counts

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

#: StartMessageMoveTask accepts 1…500 messages per second.
NATIVE_MAX_RATE: Final = 500
_UNSUPPORTED_CODES: Final = frozenset(
    {"UnsupportedOperation", "InvalidAction", "NotImplemented", "UnknownOperationException"}
)


def native_redrive(
    config: Config,
    *,
    queue: str = "points",
    rate: float | None = None,
    dry_run: bool = False,
    reason: str | None = None,
) -> RedriveSummary:
    """Whole-queue move by SQS itself (StartMessageMoveTask): fast, but no filter."""
    dlq = find_dlq(topology(config), queue)
    if dlq.kind != "queue":
        raise NativeRedriveUnsupported(
            f"{dlq.name} is an SNS delivery DLQ; SQS can only natively redrive DLQs of SQS "
            "queues: redrive without --native"
        )
    max_rate = native_rate(rate)
    sqs = sqs_client(config.aws)
    target = resolve(sqs, dlq)
    visible, in_flight = queue_counts(sqs, target.url)
    if dry_run:
        return RedriveSummary(moved=visible + in_flight, dry_run=True)
    arguments = {"queue": dlq.name, "native": True, "rate": max_rate}
    with audited(config, "dlq redrive", arguments=arguments, reason=reason) as action:
        task = start_move_task(
            sqs, queue_arn(sqs, target.url), queue_arn(sqs, target.source_url), max_rate
        )
        summary = RedriveSummary(moved=visible, task_handle=task, redrive_id=action.id)
        action.counts.update(moved=visible, task_handle=task)
    return summary


def start_move_task(
    sqs: SQSClient, dlq_arn: str, source_arn: str, max_rate: int | None = None
) -> str:
    """Ask SQS to move a DLQ back to its source; returns the task handle (to cancel/list)."""
    request: dict[str, Any] = {"SourceArn": dlq_arn, "DestinationArn": source_arn}
    if max_rate is not None:
        request["MaxNumberOfMessagesPerSecond"] = max_rate
    try:
        response = sqs.start_message_move_task(**request)
    except ClientError as exc:
        if _unsupported(exc):
            raise NativeRedriveUnsupported(
                "this SQS endpoint does not support StartMessageMoveTask (native redrive); "
                "redrive without --native"
            ) from None
        raise
    return response["TaskHandle"]


def native_rate(rate: float | None) -> int | None:
    if rate is None:
        return None
    if not 1 <= rate <= NATIVE_MAX_RATE or rate != int(rate):
        raise SelectionError(
            f"--rate with --native must be a whole number from 1 to {NATIVE_MAX_RATE}, got {rate}"
        )
    return int(rate)


def _unsupported(exc: ClientError) -> bool:
    """AWS names unsupported actions; emulators answer 5xx/HTML with no AWS error code."""
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in _UNSUPPORTED_CODES or code.isdigit()
