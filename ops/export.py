"""``dlq export`` (to JSON lines, optionally deleting what was written) and ``dlq purge``.

Durability before deletion: each batch is written, flushed and fsynced before any of it is
deleted from the DLQ, and only the messages whose lines are on disk are deleted.

A complete export (its scan saw the whole queue) leaves a marker naming its file and the
file's digest; an export that starts removes the previous marker first, so an interrupted
or incomplete one never leaves an older marker to lean on. ``purge`` then deletes, by
message id, exactly the messages that are in that file and still in the DLQ: whatever
arrived since stays, and the summary says how many. ``purge --force`` (SQS PurgeQueue,
no export) is the one lossy path; like every purge it is audited and needs a reason.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

from infra.aws import sqs_client
from infra.resolve import queue_url, topology
from infra.settings import Config
from ops.audit import audited
from ops.dlq_queues import DeadLetterQueue, find_dlq
from ops.errors import ExportError
from ops.examine import Examined, Journal, examine
from ops.scan import DlqScan, ScanEnd, ScanOptions, aws_call

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from consumers.runtime.transport import Received

EXPORT_FORMAT: Final = "points.dlq-export.v1"
OnBatch = Callable[[int], None]


def default_marker_dir() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "points" / "exports"


@dataclass(frozen=True)
class ExportSummary:
    queue: str
    file: str
    exported: int
    deleted: int
    failed: int
    end: ScanEnd = field(default_factory=ScanEnd)

    def as_json(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "file": self.file,
            "exported": self.exported,
            "deleted": self.deleted,
            "failed": self.failed,
            "complete": self.end.complete,
        }


def export_line(item: Examined, dlq: DeadLetterQueue, exported_at: str) -> dict[str, Any]:
    """One message as a self-contained JSON document (enough to replay it exactly)."""
    facts, reason = item.facts, item.reason
    return {
        "format": EXPORT_FORMAT,
        "message_id": item.message_id,
        "original_message_id": item.original_message_id,
        "queue": dlq.name,
        "source_queue": dlq.source,
        "event_id": facts.event_id,
        "event_type": facts.event_type,
        "payment_id": facts.payment_id,
        "body": item.message.body,
        "attributes": {
            name: {"DataType": data_type, "StringValue": value}
            for name, (data_type, value) in item.message.attributes.items()
        },
        "failure": {
            "error_type": reason.error_type,
            "error_message": reason.error_message,
            "source": reason.origin,
            "failed_at": reason.failed_at,
        },
        "receive_count": item.receive_count,
        "sent_at": item.sent_at,
        "exported_at": exported_at,
    }


def export(
    config: Config,
    *,
    out: Path,
    queue: str = "points",
    delete: bool = False,
    marker_dir: Path | None = None,
    options: ScanOptions | None = None,
    stop: threading.Event | None = None,
    reason: str | None = None,
    on_batch: OnBatch | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> ExportSummary:
    """Write every message of a DLQ to ``out`` (which must not exist); see the module doc."""
    dlq = find_dlq(topology(config), queue)
    sqs = sqs_client(config.aws)
    url = queue_url(sqs, dlq.physical_name)
    if out.exists():  # before the audit row: a typo is not an operator action
        raise ExportError(f"{out} exists; choose a new file (exports never overwrite)")
    scan = DlqScan(sqs, url, options, stop=stop, on_wait=on_wait)
    job = _Export(sqs, url, scan, dlq, delete, on_batch or (lambda _n: None))
    if not delete:
        return job.run(config, out, marker_dir)
    arguments = {"queue": dlq.name, "out": str(out.resolve()), "delete": True}
    with audited(config, "dlq export", arguments=arguments, reason=reason) as action:
        summary = job.run(config, out, marker_dir)
        action.counts.update(summary.as_json())
        action.outcome = summary.end.audit_outcome
    return summary


@dataclass
class _Export:
    sqs: SQSClient
    url: str
    scan: DlqScan
    dlq: DeadLetterQueue
    delete: bool
    on_batch: OnBatch

    def run(self, config: Config, out: Path, marker_dir: Path | None) -> ExportSummary:
        handle = _create(out)
        if marker_dir is not None:  # an older export no longer licenses a purge
            marker_path(marker_dir, config, self.dlq).unlink(missing_ok=True)
        exported = deleted = failed = 0
        with handle, self.scan as scan, Journal(config.points.database_url) as journal:
            _sync_directory(out)
            for batch in scan.batches():
                items = examine(batch, journal)
                _write_durably(handle, [export_line(i, self.dlq, _now()) for i in items])
                exported += len(items)
                if self.delete:
                    gone = delete_held(self.sqs, self.url, scan, [i.message for i in items])
                    deleted += len(gone)
                    failed += len(items) - len(gone)
                self.on_batch(len(items))
        if marker_dir is not None and scan.complete:
            write_marker(marker_dir, config, self.dlq, out, exported)
        return ExportSummary(self.dlq.name, str(out), exported, deleted, failed, scan.end())


def _create(out: Path) -> IO[str]:
    try:
        return out.open("x", encoding="utf-8")
    except FileExistsError:
        raise ExportError(f"{out} exists; choose a new file (exports never overwrite)") from None
    except OSError as exc:
        raise ExportError(f"cannot write {out}: {exc.strerror or exc}") from None


def _write_durably(handle: IO[str], lines: list[dict[str, Any]]) -> None:
    for line in lines:
        handle.write(json.dumps(line, ensure_ascii=False, sort_keys=False) + "\n")
    handle.flush()
    os.fsync(handle.fileno())


def _sync_directory(path: Path) -> None:
    """Make the new file's directory entry durable too (else a crash may lose the file)."""
    fd = os.open(path.resolve().parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def delete_held(sqs: SQSClient, url: str, scan: DlqScan, messages: list[Received]) -> list[str]:
    """Delete messages the scan holds (by their newest handles); returns the ids deleted."""
    gone: list[str] = []
    for start in range(0, len(messages), 10):
        chunk = messages[start : start + 10]
        entries: list[Any] = [
            {"Id": str(i), "ReceiptHandle": scan.handle(m.message_id)} for i, m in enumerate(chunk)
        ]
        response = aws_call(
            functools.partial(sqs.delete_message_batch, QueueUrl=url, Entries=entries)
        )
        gone += [chunk[int(ok["Id"])].message_id for ok in response.get("Successful", [])]
    scan.forget(gone)
    return gone


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


# --- export markers ----------------------------------------------------------------------


@dataclass(frozen=True)
class ExportMarker:
    queue: str
    file: str
    exported: int
    at: datetime
    sha256: str


def marker_path(marker_dir: Path, config: Config, dlq: DeadLetterQueue) -> Path:
    """One marker per (endpoint, region, deployed queue): an export on moto never licenses
    a purge in a real account."""
    where = config.aws.endpoint_url or "aws"
    slug = re.sub(r"[^A-Za-z0-9]+", "_", f"{where}_{config.aws.region}_{dlq.physical_name}")
    return marker_dir / f"{slug.strip('_')}.json"


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_marker(
    marker_dir: Path, config: Config, dlq: DeadLetterQueue, out: Path, exported: int
) -> Path:
    marker_dir.mkdir(parents=True, exist_ok=True)
    path = marker_path(marker_dir, config, dlq)
    document = {
        "queue": dlq.physical_name,
        "endpoint": config.aws.endpoint_url,
        "region": config.aws.region,
        "file": str(out.resolve()),
        "exported": exported,
        "sha256": file_digest(out),
        "at": _now(),
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def read_marker(marker_dir: Path, config: Config, dlq: DeadLetterQueue) -> ExportMarker | None:
    try:
        document = json.loads(marker_path(marker_dir, config, dlq).read_text(encoding="utf-8"))
        return ExportMarker(
            queue=str(document["queue"]),
            file=str(document["file"]),
            exported=int(document["exported"]),
            at=datetime.fromisoformat(document["at"]),
            sha256=str(document["sha256"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
