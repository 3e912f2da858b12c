"""JSON logs (one line per outcome) and CloudWatch Embedded Metric Format lines.

Never logged: message bodies, amounts, account ids, merchant data. An outcome line carries
identifiers an operator needs to find the message (event_id, payment_id, message_id), the
queue, the outcome and the latency from ``occurred_at``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, TextIO

LOGGER_NAME: Final = "points.worker"
METRICS_NAMESPACE: Final = "PointsPipeline"
#: ``extra=`` keys that may appear in a log line; anything else is dropped, by design.
LOG_FIELDS: Final = frozenset(
    {
        "queue",
        "message_id",
        "dlq_message_id",
        "event_id",
        "event_type",
        "payment_id",
        "outcome",
        "latency_ms",
        "error_type",
        "error",
        "receive_count",
        "attempt",
        "count",
        "retry_in_s",
        "pollers",
    }
)

logger = logging.getLogger(LOGGER_NAME)
#: ``json.dumps(line, ensure_ascii=False, default=str)``'s encoder, built once, not per line.
_LINE_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, default=str)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update({k: v for k, v in record.__dict__.items() if k in LOG_FIELDS})
        if record.exc_info and record.levelno >= logging.ERROR:
            line["exception"] = self.formatException(record.exc_info).splitlines()[-1]
        return _LINE_ENCODER.encode(line)


def configure_json_logging(level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """JSON lines on ``stream`` for the ``points`` loggers of this process.

    A JSON line carries none of the caller's file, line, thread or process, so the record
    attributes that hold them are not collected (the logging HOWTO's "Optimization"
    switches): 2 µs of the ~16 µs an outcome line costs, measured per line.
    """
    logging._srcfile = None  # no stack walk per record
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("points")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def latency_ms(occurred_at: datetime, now: datetime | None = None) -> int:
    return int(((now or datetime.now(UTC)) - occurred_at).total_seconds() * 1000)


@dataclass
class BatchMetrics:
    """Counts of one batch, flushed as one EMF line."""

    queue: str
    processed: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    retried: int = 0
    latencies_ms: list[int] = field(default_factory=list)

    def emf(self, now_ms: int | None = None) -> dict[str, Any]:
        metrics = [
            {"Name": "Processed", "Unit": "Count"},
            {"Name": "Duplicates", "Unit": "Count"},
            {"Name": "DeadLettered", "Unit": "Count"},
            {"Name": "Retried", "Unit": "Count"},
        ]
        document: dict[str, Any] = {
            "_aws": {
                "Timestamp": now_ms if now_ms is not None else int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {"Namespace": METRICS_NAMESPACE, "Dimensions": [["Queue"]], "Metrics": metrics}
                ],
            },
            "Queue": self.queue,
            "Processed": self.processed,
            "Duplicates": self.duplicates,
            "DeadLettered": self.dead_lettered,
            "Retried": self.retried,
        }
        if self.latencies_ms:
            metrics.append({"Name": "LatencyMs", "Unit": "Milliseconds"})
            document["LatencyMs"] = self.latencies_ms
        return document


class MetricsSink:
    """Writes EMF documents as single lines (CloudWatch Logs extracts the metrics)."""

    def __init__(self, stream: TextIO | None = None, enabled: bool = True) -> None:
        self._stream = stream or sys.stdout
        self._enabled = enabled

    def emit(self, metrics: BatchMetrics) -> None:
        if self._enabled:
            self._stream.write(json.dumps(metrics.emf(), separators=(",", ":")) + "\n")
            self._stream.flush()


def outcome_fields(**fields: Any) -> Mapping[str, Any]:
    """``extra=`` for an outcome line, without None values."""
    return {k: v for k, v in fields.items() if v is not None}
