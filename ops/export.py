"""``dlq export`` (to JSON lines, optionally deleting what was written) and ``dlq purge``.

Durability before deletion: each batch is written, flushed and fsynced before any of it is
deleted from the DLQ, and only the messages whose lines are on disk are deleted. A complete
export leaves a marker (queue, endpoint, count, time) that ``purge`` requires, so nobody
purges a DLQ that was not saved first.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from infra.aws import sqs_client
from infra.resolve import queue_url, topology
from infra.settings import Config
from ops.dlq_queues import DeadLetterQueue, find_dlq
from ops.errors import ExportError, PurgeRefused
from ops.examine import Examined, Journal, examine
from ops.scan import DlqScan, ScanOptions, aws_call, queue_counts

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

EXPORT_FORMAT: Final = "points.dlq-export.v1"
#: A purge needs an export of the same queue at most this old.
FRESH_EXPORT_MINUTES: Final = 15


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

    def as_json(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "file": self.file,
            "exported": self.exported,
            "deleted": self.deleted,
            "failed": self.failed,
        }


def export_line(item: Examined, dlq: DeadLetterQueue, exported_at: str) -> dict[str, Any]:
    """One message as a self-contained JSON document (enough to replay it exactly)."""
    facts, reason = item.facts, item.reason
    return {
        "format": EXPORT_FORMAT,
        "message_id": item.message_id,
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
) -> ExportSummary:
    """Write every message of a DLQ to ``out`` (which must not exist); see the module doc."""
    dlq = find_dlq(topology(config), queue)
    sqs = sqs_client(config.aws)
    url = queue_url(sqs, dlq.physical_name)
    exported = deleted = failed = 0
    try:
        handle = out.open("x", encoding="utf-8")
    except FileExistsError:
        raise ExportError(f"{out} exists; choose a new file (exports never overwrite)") from None
    except OSError as exc:
        raise ExportError(f"cannot write {out}: {exc.strerror or exc}") from None
    with handle, DlqScan(sqs, url, options) as scan, Journal(config.points.database_url) as journal:
        _sync_directory(out)
        for batch in scan.batches():
            items = examine(batch, journal)
            _write_durably(handle, [export_line(i, dlq, _now()) for i in items])
            exported += len(items)
            if delete:
                gone = _delete(sqs, url, scan, items)
                deleted += len(gone)
                failed += len(items) - len(gone)
    if marker_dir is not None:
        write_marker(marker_dir, config, dlq, out, exported)
    return ExportSummary(dlq.name, str(out), exported, deleted, failed)


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


def _delete(sqs: SQSClient, url: str, scan: DlqScan, items: list[Examined]) -> list[str]:
    entries: list[Any] = [
        {"Id": str(i), "ReceiptHandle": scan.handle(item.message_id)}
        for i, item in enumerate(items)
    ]
    response = aws_call(lambda: sqs.delete_message_batch(QueueUrl=url, Entries=entries))
    gone = [items[int(ok["Id"])].message_id for ok in response.get("Successful", [])]
    scan.forget(gone)
    return gone


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


# --- export markers and purge ------------------------------------------------------------


@dataclass(frozen=True)
class ExportMarker:
    queue: str
    file: str
    exported: int
    at: datetime


def marker_path(marker_dir: Path, config: Config, dlq: DeadLetterQueue) -> Path:
    """One marker per (endpoint, region, deployed queue): an export on moto never licenses
    a purge in a real account."""
    where = config.aws.endpoint_url or "aws"
    slug = re.sub(r"[^A-Za-z0-9]+", "_", f"{where}_{config.aws.region}_{dlq.physical_name}")
    return marker_dir / f"{slug.strip('_')}.json"


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
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True)
class PurgeSummary:
    queue: str
    purged: int
    forced: bool
    export_file: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "purged": self.purged,
            "forced": self.forced,
            "export_file": self.export_file,
        }


def purge(
    config: Config,
    *,
    queue: str = "points",
    force: bool = False,
    marker_dir: Path | None = None,
    max_age: timedelta = timedelta(minutes=FRESH_EXPORT_MINUTES),
    now: datetime | None = None,
) -> PurgeSummary:
    """Empty a DLQ, only after a fresh complete export of it (or with ``force``)."""
    dlq = find_dlq(topology(config), queue)
    sqs = sqs_client(config.aws)
    url = queue_url(sqs, dlq.physical_name)
    visible, in_flight = queue_counts(sqs, url)
    marker = read_marker(marker_dir or default_marker_dir(), config, dlq)
    if not force:
        _check_export(dlq, marker, visible + in_flight, max_age, now or datetime.now(UTC))
    try:
        aws_call(lambda: sqs.purge_queue(QueueUrl=url))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if "PurgeQueueInProgress" in code:
            raise PurgeRefused(
                f"a purge of {dlq.name} is already in progress (wait 60 s)"
            ) from None
        raise
    if marker is not None and marker_dir is not None:
        marker_path(marker_dir, config, dlq).unlink(missing_ok=True)
    return PurgeSummary(dlq.name, visible + in_flight, force, marker.file if marker else None)


def _check_export(
    dlq: DeadLetterQueue,
    marker: ExportMarker | None,
    depth: int,
    max_age: timedelta,
    now: datetime,
) -> None:
    how = f"run `points dlq export --queue {dlq.name} --out FILE` first, or pass --force"
    if marker is None:
        raise PurgeRefused(f"no export of {dlq.name} found; {how}")
    age = now - marker.at
    if age > max_age:
        minutes = int(age.total_seconds() // 60)
        raise PurgeRefused(
            f"the last export of {dlq.name} is {minutes} min old "
            f"(limit {int(max_age.total_seconds() // 60)} min); {how}"
        )
    if depth > marker.exported:
        raise PurgeRefused(
            f"{dlq.name} holds {depth} messages but the export has {marker.exported}: "
            f"messages arrived since; {how}"
        )
