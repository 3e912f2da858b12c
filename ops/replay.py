"""``points replay FILE``: send exported DLQ messages again.

To the source queue (default): body and attributes as exported, minus the failure reason,
plus ``points.redrive_count`` and the replay's operation id (exactly like a redrive). To a
DLQ (``--to-queue points-dlq``): byte-for-byte as exported, which restores a purged DLQ.
To the topic (``--to-topic``): decodable events are published again (and fan out to every
subscribed queue); undecodable bodies are skipped and counted. Every replay is audited.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consumers.runtime.deadletter import without_failure
from consumers.runtime.transport import encode_attributes
from infra.aws import sns_client, sqs_client
from infra.resolve import queue_url, topic_arn, topology
from infra.settings import Config
from ops.audit import audited
from ops.dlq_queues import QueueTarget, find_target, source_target
from ops.errors import OpsError, ReplayInputError
from ops.scan import aws_call
from producers.publisher import SnsPublisher, chunk_for_batch
from schemas.envelope import decode_body
from schemas.errors import PermanentError
from schemas.events import Event

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

_MAX_PROBLEMS_SHOWN = 10


@dataclass(frozen=True)
class ExportedMessage:
    line: int
    message_id: str
    source_queue: str
    body: str
    attributes: Mapping[str, tuple[str, str]]


@dataclass
class ReplaySummary:
    replayed: int = 0
    skipped: int = 0
    failed: int = 0
    targets: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "replayed": self.replayed,
            "skipped": self.skipped,
            "failed": self.failed,
            "targets": dict(self.targets),
        }


def read_export(path: Path) -> list[ExportedMessage]:
    """Every line of an export file; nothing is sent if any line is bad."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ReplayInputError(f"cannot read {path}: {exc}") from None
    messages: list[ExportedMessage] = []
    problems: list[str] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            messages.append(parse_line(number, text))
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(f"{path}:{number}: {exc}")
    if problems:
        shown = "; ".join(problems[:_MAX_PROBLEMS_SHOWN])
        raise ReplayInputError(
            f"{len(problems)} line(s) are not `points dlq export` lines, nothing sent: {shown}"
        )
    return messages


def parse_line(number: int, text: str) -> ExportedMessage:
    document = json.loads(text)
    if not isinstance(document, dict) or not isinstance(document.get("body"), str):
        raise ValueError("expected a JSON object with a string 'body'")
    raw = document.get("attributes") or {}
    if not isinstance(raw, dict):
        raise ValueError("'attributes' must be an object")
    attributes = {
        str(name): (str(value["DataType"]), str(value["StringValue"]))
        for name, value in raw.items()
    }
    return ExportedMessage(
        line=number,
        message_id=str(document.get("message_id", "")),
        source_queue=str(document["source_queue"]),
        body=document["body"],
        attributes=attributes,
    )


def replay(
    config: Config,
    path: Path,
    *,
    to_queue: str | None = None,
    to_topic: bool = False,
    reason: str | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> ReplaySummary:
    """Re-send an export file (audited); nothing is sent if any line is bad."""
    if to_queue and to_topic:
        raise OpsError("choose one of --to-queue and --to-topic")
    messages = read_export(path)
    plan = None if to_topic else _plan(config, messages, to_queue)
    arguments = {"file": str(path.resolve()), "to_queue": to_queue, "to_topic": to_topic}
    with audited(config, "replay", arguments=arguments, reason=reason) as action:
        if plan is None:
            summary = _publish(config, messages)
        else:
            summary = ReplaySummary()
            sqs = sqs_client(config.aws)
            progress = on_batch or (lambda _n: None)
            for target, batch in plan.items():
                url = queue_url(sqs, target.physical_name)
                sent, failed = _send(sqs, url, target, batch, action.id, progress)
                summary.replayed += sent
                summary.failed += failed
                summary.targets[target.name] = summary.targets.get(target.name, 0) + sent
        action.counts.update(summary.as_json())
    return summary


def _plan(
    config: Config, messages: list[ExportedMessage], to_queue: str | None
) -> dict[QueueTarget, list[ExportedMessage]]:
    """Group messages by destination; unknown queue names fail before anything is sent."""
    topo = topology(config)
    fixed = find_target(topo, to_queue) if to_queue else None
    plan: dict[QueueTarget, list[ExportedMessage]] = {}
    for message in messages:
        try:
            target = fixed or source_target(topo, message.source_queue)
        except OpsError as exc:
            raise ReplayInputError(f"line {message.line}: {exc}; use --to-queue") from None
        plan.setdefault(target, []).append(message)
    return plan


def _send(
    sqs: SQSClient,
    url: str,
    target: QueueTarget,
    messages: list[ExportedMessage],
    replay_id: int,
    progress: Callable[[int], None],
) -> tuple[int, int]:
    sent = failed = 0
    for indexes in chunk_for_batch([m.body for m in messages]):
        entries: list[Any] = []
        for i in indexes:
            message = messages[i]
            attributes = (
                dict(message.attributes)
                if target.is_dead_letter
                else without_failure(message.attributes, replay_id)
            )
            entry: dict[str, Any] = {"Id": str(i), "MessageBody": message.body}
            if attributes:
                entry["MessageAttributes"] = encode_attributes(attributes)
            entries.append(entry)
        response = aws_call(
            functools.partial(sqs.send_message_batch, QueueUrl=url, Entries=entries)
        )
        sent += len(response.get("Successful", []))
        failed += len(response.get("Failed", []))
        progress(len(indexes))
    return sent, failed


def _publish(config: Config, messages: list[ExportedMessage]) -> ReplaySummary:
    events: list[Event] = []
    summary = ReplaySummary()
    for message in messages:
        try:
            events.append(decode_body(message.body))
        except PermanentError:
            summary.skipped += 1
    if events:
        sns = sns_client(config.aws)
        SnsPublisher(sns, topic_arn(config, sns)).publish_batch(events)
    summary.replayed = len(events)
    summary.targets["topic"] = len(events)
    return summary
