"""``points dlq purge``: delete exactly what the last complete export of a DLQ holds.

Identity, never counts: the export file's message ids are read back (the file must still
have the digest its marker recorded), the DLQ is scanned completely, and a message is
deleted only if its id is in the file. Messages that arrived after the export, or that a
redrive sent back since, stay; the summary says how many were left. ``--force`` empties
the queue with SQS PurgeQueue instead (no export needed: the one lossy path).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from infra.aws import sqs_client
from infra.resolve import queue_url, topology
from infra.settings import Config
from ops.audit import audited
from ops.dlq_queues import DeadLetterQueue, find_dlq
from ops.errors import PurgeRefused
from ops.export import (
    OnBatch,
    default_marker_dir,
    delete_held,
    file_digest,
    marker_path,
    read_marker,
)
from ops.scan import DlqScan, ScanEnd, ScanOptions, aws_call, queue_counts


@dataclass(frozen=True)
class PurgeSummary:
    queue: str
    purged: int
    #: Still in the DLQ because they are not in the export (arrived after it).
    left: int
    forced: bool
    export_file: str | None
    end: ScanEnd = field(default_factory=ScanEnd)

    def as_json(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "purged": self.purged,
            "left": self.left,
            "forced": self.forced,
            "export_file": self.export_file,
            "complete": self.end.complete,
        }


def purge(
    config: Config,
    *,
    queue: str = "points",
    reason: str | None = None,
    force: bool = False,
    marker_dir: Path | None = None,
    options: ScanOptions | None = None,
    stop: threading.Event | None = None,
    on_batch: OnBatch | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> PurgeSummary:
    """Delete from a DLQ the messages of its last complete export; see the module doc."""
    dlq = find_dlq(topology(config), queue)
    if force:
        return _purge_queue(config, dlq, reason)
    marker_file = marker_path(marker_dir or default_marker_dir(), config, dlq)
    exported = exported_ids(config, dlq, marker_dir or default_marker_dir())
    sqs = sqs_client(config.aws)
    url = queue_url(sqs, dlq.physical_name)
    arguments = {"queue": dlq.name, "export_file": exported.file}
    with audited(config, "dlq purge", arguments=arguments, reason=reason) as action:
        purged = left = 0
        with DlqScan(sqs, url, options, stop=stop, on_wait=on_wait) as scan:
            for batch in scan.batches():
                doomed = [m for m in batch if m.message_id in exported.ids]
                purged += len(delete_held(sqs, url, scan, doomed))
                left += len(batch) - len(doomed)
                (on_batch or (lambda _n: None))(len(batch))
        summary = PurgeSummary(dlq.name, purged, left, False, exported.file, scan.end())
        action.counts.update(summary.as_json())
        action.outcome = summary.end.audit_outcome
    if summary.end.complete:
        marker_file.unlink(missing_ok=True)  # used up: the next purge needs a new export
    return summary


@dataclass(frozen=True)
class ExportedIds:
    file: str
    ids: frozenset[str]


def exported_ids(config: Config, dlq: DeadLetterQueue, marker_dir: Path) -> ExportedIds:
    """The message ids of the last complete export of ``dlq``, checked against its marker."""
    how = f"run `points dlq export --queue {dlq.name} --out FILE` first"
    marker = read_marker(marker_dir, config, dlq)
    if marker is None:
        raise PurgeRefused(f"no complete export of {dlq.name} found; {how}")
    path = Path(marker.file)
    try:
        if file_digest(path) != marker.sha256:
            raise PurgeRefused(f"{path} changed since it was exported; {how}")
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise PurgeRefused(f"cannot read the export {path}: {exc.strerror or exc}; {how}") from None
    ids: set[str] = set()
    for line in lines:
        document = json.loads(line)
        if document.get("queue") == dlq.name and isinstance(document.get("message_id"), str):
            ids.add(document["message_id"])
    return ExportedIds(str(path), frozenset(ids))


def _purge_queue(config: Config, dlq: DeadLetterQueue, reason: str | None) -> PurgeSummary:
    sqs = sqs_client(config.aws)
    url = queue_url(sqs, dlq.physical_name)
    arguments = {"queue": dlq.name, "force": True}
    with audited(config, "dlq purge", arguments=arguments, reason=reason) as action:
        visible, in_flight = queue_counts(sqs, url)
        try:
            aws_call(lambda: sqs.purge_queue(QueueUrl=url))
        except ClientError as exc:
            if "PurgeQueueInProgress" in str(exc.response.get("Error", {}).get("Code", "")):
                raise PurgeRefused(
                    f"a purge of {dlq.name} is already in progress (wait 60 s)"
                ) from None
            raise
        summary = PurgeSummary(dlq.name, visible + in_flight, 0, True, None)
        action.counts.update(summary.as_json())
    return summary
