"""``dlq export``, ``dlq purge`` and ``replay`` on a real moto server."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path

import pytest

from infra.apply import ApplyResult
from infra.aws import sqs_client
from infra.settings import Config
from ops.audit import AuditLog
from ops.errors import ExportError, PurgeRefused, ReplayInputError
from ops.export import export
from ops.purge import purge
from ops.replay import replay
from tests.support.dlq import (  # noqa: F401 (pytest fixtures)
    FAST,
    attribute_values,
    aws_fixture,
    contract_attributes,
    counts,
    dead_letter_like_worker,
    drain,
    event_body,
    ops_db_fixture,
    topo_fixture,
)


def _seed(aws: Config, topo: ApplyResult, n: int = 5) -> tuple[str, str]:
    outputs = topo.queues["points"]
    sqs = sqs_client(aws.aws)
    for i in range(n):
        dead_letter_like_worker(
            sqs,
            outputs.dlq_url,
            event_body(f"e{i}", "refund"),
            attributes=contract_attributes("refund"),
            error_message=f"refund {i} is broken",
        )
    dead_letter_like_worker(sqs, outputs.dlq_url, "not json at all", error_type="invalid_body")
    return outputs.url, outputs.dlq_url


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _contents(messages: list[dict[str, object]]) -> Counter[str]:
    """Body + attributes of each message, as a comparable multiset."""
    return Counter(json.dumps([m["Body"], attribute_values(m)], sort_keys=True) for m in messages)


def test_export_writes_every_message_and_keeps_the_dlq(
    aws: Config, topo: ApplyResult, tmp_path: Path
) -> None:
    """One line per message with body, attributes, reason and timestamps; DLQ unchanged."""
    _, dlq_url = _seed(aws, topo)
    out = tmp_path / "dlq.jsonl"
    summary = export(aws, out=out, options=FAST)
    lines = _lines(out)
    assert (summary.exported, summary.deleted) == (6, 0)
    assert len(lines) == 6
    refund = next(line for line in lines if line["event_id"] == "e0")
    assert refund["body"] == event_body("e0", "refund")
    assert refund["failure"] == {
        "error_type": "invalid_event",
        "error_message": "refund 0 is broken",
        "source": "attributes",
        "failed_at": refund["failure"]["failed_at"],  # type: ignore[index]
    }
    assert refund["attributes"]["event_type"] == {  # type: ignore[index]
        "DataType": "String",
        "StringValue": "refund",
    }
    assert {"message_id", "receive_count", "sent_at", "exported_at"} <= set(refund)
    assert counts(sqs_client(aws.aws), dlq_url) == (6, 0)


def test_export_delete_removes_exactly_what_was_written(
    aws: Config, topo: ApplyResult, tmp_path: Path
) -> None:
    """--delete: the file has every message and the DLQ is empty."""
    _, dlq_url = _seed(aws, topo)
    out = tmp_path / "dlq.jsonl"
    summary = export(aws, out=out, delete=True, options=FAST)
    assert (summary.exported, summary.deleted, summary.failed) == (6, 6, 0)
    assert len(_lines(out)) == 6
    assert counts(sqs_client(aws.aws), dlq_url) == (0, 0)


def test_export_never_overwrites(aws: Config, topo: ApplyResult, tmp_path: Path) -> None:
    """An existing output file is refused before anything is read."""
    _seed(aws, topo, 1)
    out = tmp_path / "dlq.jsonl"
    out.write_text("precious\n")
    with pytest.raises(ExportError, match="exists"):
        export(aws, out=out, delete=True, options=FAST)
    assert out.read_text() == "precious\n"


def test_purge_without_an_export_is_refused(aws: Config, topo: ApplyResult, tmp_path: Path) -> None:
    """No marker: refused with the command to run; nothing purged."""
    _, dlq_url = _seed(aws, topo, 1)
    with pytest.raises(PurgeRefused, match="points dlq export"):
        purge(aws, marker_dir=tmp_path, reason="r", options=FAST)
    assert counts(sqs_client(aws.aws), dlq_url) == (2, 0)


def test_purge_keeps_what_arrived_after_the_export(
    aws: Config, topo: ApplyResult, tmp_path: Path
) -> None:
    """Export, then new failures arrive, then purge: the new ones are still in the DLQ and
    every purged message is in the export file (identity, not counts)."""
    _, dlq_url = _seed(aws, topo, 4)
    out = tmp_path / "x.jsonl"
    export(aws, out=out, marker_dir=tmp_path, options=FAST)
    sqs = sqs_client(aws.aws)
    late = {dead_letter_like_worker(sqs, dlq_url, event_body(f"late{i}")) for i in range(2)}
    summary = purge(aws, marker_dir=tmp_path, reason="saved in x.jsonl", options=FAST)
    assert (summary.purged, summary.left, summary.end.complete) == (5, 2, True)
    assert {m["MessageId"] for m in drain(sqs, dlq_url)} == late
    assert not late & {line["message_id"] for line in _lines(out)}


def test_purge_after_export_delete_purges_nothing_new(
    aws: Config, topo: ApplyResult, tmp_path: Path
) -> None:
    """The issue's loss: ``export --delete`` of 6, 2 new failures, purge → 0 purged, 2 left."""
    _, dlq_url = _seed(aws, topo, 5)
    export(aws, out=tmp_path / "x.jsonl", delete=True, marker_dir=tmp_path, options=FAST)
    sqs = sqs_client(aws.aws)
    for i in range(2):
        dead_letter_like_worker(sqs, dlq_url, event_body(f"late{i}"))
    summary = purge(aws, marker_dir=tmp_path, reason="r", options=FAST)
    assert (summary.purged, summary.left) == (0, 2)
    assert counts(sqs, dlq_url) == (2, 0)


def test_an_interrupted_export_voids_the_previous_marker(
    aws: Config, topo: ApplyResult, tmp_path: Path
) -> None:
    """An export removes the older marker when it starts: interrupted, it leaves none, so
    no purge leans on the older export."""
    _seed(aws, topo, 1)
    export(aws, out=tmp_path / "a.jsonl", marker_dir=tmp_path, options=FAST)
    stop = threading.Event()
    stop.set()  # Ctrl-C before the first batch
    summary = export(aws, out=tmp_path / "b.jsonl", marker_dir=tmp_path, options=FAST, stop=stop)
    assert (summary.end.complete, summary.end.interrupted) == (False, True)
    with pytest.raises(PurgeRefused, match="no complete export"):
        purge(aws, marker_dir=tmp_path, reason="r", options=FAST)


def test_export_delete_and_purge_are_audited(
    aws: Config, topo: ApplyResult, tmp_path: Path
) -> None:
    """Both record the actor, their counts and the reason in the ledger database."""
    _seed(aws, topo, 2)
    export(aws, out=tmp_path / "x.jsonl", delete=True, marker_dir=tmp_path, reason="INC-7")
    purge(aws, marker_dir=tmp_path, reason="INC-7 done", options=FAST)
    log = AuditLog.open(aws.points.database_url)
    purged, exported = log.entries()[:2]
    log.close()
    assert (exported.command, exported.reason, exported.counts["deleted"]) == (
        "dlq export",
        "INC-7",
        3,
    )
    assert (purged.command, purged.reason, purged.counts["purged"]) == (
        "dlq purge",
        "INC-7 done",
        0,
    )
    assert exported.actor
    assert exported.outcome == purged.outcome == "completed"


def test_export_purge_replay_round_trips_every_message(
    aws: Config, topo: ApplyResult, tmp_path: Path
) -> None:
    """export → purge → replay --to-queue points-dlq: same bodies and attributes as before."""
    _, dlq_url = _seed(aws, topo)
    sqs = sqs_client(aws.aws)
    out = tmp_path / "dlq.jsonl"
    export(aws, out=out, marker_dir=tmp_path, options=FAST)
    before = _lines(out)
    assert purge(aws, marker_dir=tmp_path, reason="r", options=FAST).purged == 6
    assert counts(sqs, dlq_url) == (0, 0)
    summary = replay(aws, out, to_queue="points-dlq")
    assert (summary.replayed, summary.failed) == (6, 0)
    after = drain(sqs, dlq_url)
    assert _contents(after) == Counter(
        json.dumps(
            [line["body"], {k: v["StringValue"] for k, v in line["attributes"].items()}],  # type: ignore[attr-defined]
            sort_keys=True,
        )
        for line in before
    )


def test_replay_to_the_source_strips_the_reason(
    aws: Config, topo: ApplyResult, tmp_path: Path
) -> None:
    """By default lines go to their source queue, like a redrive: no reason, redrive count 1."""
    url, _ = _seed(aws, topo, 2)
    out = tmp_path / "dlq.jsonl"
    export(aws, out=out, delete=True, options=FAST)
    assert replay(aws, out).as_json()["targets"] == {"points": 3}
    copies = drain(sqs_client(aws.aws), url)
    assert len(copies) == 3
    for copy in copies:
        values = attribute_values(copy)
        assert not any(k.startswith("points.error") for k in values)
        assert values["points.redrive_count"] == "1"


def test_replay_to_topic_publishes_decodable_events_only(
    aws: Config, topo: ApplyResult, tmp_path: Path
) -> None:
    """--to-topic republishes the valid events (they reach the queue); the rest are skipped."""
    url, _ = _seed(aws, topo, 2)
    out = tmp_path / "dlq.jsonl"
    export(aws, out=out, delete=True, options=FAST)
    summary = replay(aws, out, to_topic=True)
    assert (summary.replayed, summary.skipped) == (2, 1)
    bodies = {json.loads(m["Body"])["event_id"] for m in drain(sqs_client(aws.aws), url)}
    assert bodies == {"e0", "e1"}


def test_replay_refuses_a_file_with_a_bad_line(
    aws: Config, topo: ApplyResult, tmp_path: Path
) -> None:
    """A line that is not an export line: nothing is sent, the line is named."""
    url, _ = _seed(aws, topo, 1)
    out = tmp_path / "dlq.jsonl"
    export(aws, out=out, options=FAST)
    out.write_text(out.read_text() + "{oops\n")
    with pytest.raises(ReplayInputError, match=r"dlq.jsonl:3"):
        replay(aws, out)
    assert counts(sqs_client(aws.aws), url) == (0, 0)
