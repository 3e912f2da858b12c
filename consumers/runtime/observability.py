"""JSON logs (one line per outcome) and CloudWatch Embedded Metric Format lines.

Never logged: message bodies, amounts, account ids, merchant data. An outcome line carries
identifiers an operator needs to find the message (event_id, payment_id, message_id), the
queue, the outcome and the latency from ``occurred_at``.
"""

from __future__ import annotations

import json
import logging
import math
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
#: (orjson would write a line in a tenth of the time, but only compactly: without the
#: spaces after ``:`` and ``,`` that every line carried so far.)
_LINE_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, default=str)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``ts``, ``level``, ``logger``, ``msg``, the ``extra=``
    fields of ``LOG_FIELDS`` in the order given, and ``exception`` (its last line) on errors.

    The outcome line is written once per message, so the timestamp's date and time of day
    are formatted once per second, not per line: the same text
    (``tests/unit/runtime/test_observability.py``), a microsecond less per line.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._second: tuple[float, str] = (math.nan, "")

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": self._timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update({k: v for k, v in record.__dict__.items() if k in LOG_FIELDS})
        if record.exc_info and record.levelno >= logging.ERROR:
            line["exception"] = self.formatException(record.exc_info).splitlines()[-1]
        return _LINE_ENCODER.encode(line)

    def _timestamp(self, created: float) -> str:
        """``datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")``.

        With its rounding: ``fromtimestamp`` rounds the fraction to microseconds, half to
        even, carrying into the seconds; ``isoformat`` then truncates to milliseconds.
        """
        fraction, seconds = math.modf(created)
        if fraction < 0:  # before 1970: not worth a second path
            return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
        microseconds = round(fraction * 1_000_000)
        if microseconds >= 1_000_000:
            seconds, microseconds = seconds + 1, microseconds - 1_000_000
        cached_second, text = self._second
        if seconds != cached_second:
            text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = (seconds, text)
        return f"{text}.{microseconds // 1000:03d}+00:00"


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
