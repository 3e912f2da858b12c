"""Naming DLQs, export lines, purge guards and pacing: the pure parts of ``points dlq``."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from consumers.runtime.deadletter import failure_attributes
from infra.settings import AwsSettings, Config, PointsSettings
from infra.topology import topology_for
from ops.dlq_queues import dead_letter_queues, find_dlq, find_target
from ops.errors import PurgeRefused, ReplayInputError, SelectionError, UnknownQueue
from ops.export import ExportMarker, _check_export, marker_path, read_marker, write_marker
from ops.redrive import Pacer, _native_rate, redriven_attributes
from ops.replay import read_export

TOPOLOGY = topology_for("dev-")


def test_every_queue_has_a_queue_dlq_and_a_delivery_dlq() -> None:
    """Four DLQs for two queues, each knowing its source and deployed name."""
    names = [(d.name, d.kind, d.source, d.physical_name) for d in dead_letter_queues(TOPOLOGY)]
    assert names == [
        ("points-dlq", "queue", "points", "dev-points-dlq"),
        ("points-delivery-dlq", "delivery", "points", "dev-points-delivery-dlq"),
        ("notifications-dlq", "queue", "notifications", "dev-notifications-dlq"),
        (
            "notifications-delivery-dlq",
            "delivery",
            "notifications",
            "dev-notifications-delivery-dlq",
        ),
    ]


@pytest.mark.parametrize("name", ["points", "points-dlq", "dev-points", "dev-points-dlq"])
def test_a_source_queue_name_means_its_dlq(name: str) -> None:
    """``--queue points`` and ``--queue points-dlq`` (logical or deployed) are the same DLQ."""
    assert find_dlq(TOPOLOGY, name).name == "points-dlq"


def test_unknown_queue_lists_every_known_name() -> None:
    """A typo names every queue and DLQ the operator could have meant."""
    with pytest.raises(UnknownQueue) as raised:
        find_dlq(TOPOLOGY, "pionts")
    assert str(raised.value) == (
        "unknown queue 'pionts'; known: points, notifications, points-dlq, "
        "points-delivery-dlq, notifications-dlq, notifications-delivery-dlq"
    )


def test_replay_target_may_be_a_dlq() -> None:
    """``--to-queue points-dlq`` is a dead-letter target (attributes kept verbatim)."""
    assert find_target(TOPOLOGY, "points-dlq").is_dead_letter
    assert not find_target(TOPOLOGY, "points").is_dead_letter


def _config(endpoint: str | None) -> Config:
    # Settings fields have environment aliases: set them the way Config.resolve does.
    aws = AwsSettings().model_copy(update={"endpoint_url": endpoint, "region": "ap-northeast-1"})
    return Config(aws, PointsSettings().model_copy(update={"resource_prefix": "dev-"}))


def test_markers_are_per_endpoint(tmp_path: Path) -> None:
    """An export against moto never licenses a purge in a real account."""
    dlq = find_dlq(TOPOLOGY, "points")
    write_marker(tmp_path, _config("http://127.0.0.1:4566"), dlq, tmp_path / "x.jsonl", 3)
    assert read_marker(tmp_path, _config(None), dlq) is None
    marker = read_marker(tmp_path, _config("http://127.0.0.1:4566"), dlq)
    assert marker is not None
    assert marker.exported == 3
    assert (
        marker_path(tmp_path, _config(None), dlq).name == "aws_ap_northeast_1_dev_points_dlq.json"
    )


def _marker(minutes_ago: float, exported: int = 5) -> ExportMarker:
    at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return ExportMarker(queue="points-dlq", file="/x.jsonl", exported=exported, at=at)


def test_fresh_complete_export_allows_a_purge() -> None:
    """Within 15 minutes and no new messages: no objection."""
    _check_export(
        find_dlq(TOPOLOGY, "points"), _marker(3), 5, timedelta(minutes=15), datetime.now(UTC)
    )


@pytest.mark.parametrize(
    ("marker", "depth", "reason"),
    [(None, 1, "no export"), (_marker(20), 5, "min old"), (_marker(1, 2), 5, "arrived since")],
    ids=["no-export", "stale", "new-messages"],
)
def test_purge_guard_refuses(marker: ExportMarker | None, depth: int, reason: str) -> None:
    """No export, a stale one, or more messages than exported: refused, naming the fix."""
    with pytest.raises(PurgeRefused, match=reason) as raised:
        _check_export(
            find_dlq(TOPOLOGY, "points"), marker, depth, timedelta(minutes=15), datetime.now(UTC)
        )
    assert "points dlq export" in str(raised.value)


def test_replay_file_lines_are_validated_before_sending(tmp_path: Path) -> None:
    """Every bad line is reported with its number; blank lines are ignored."""
    good = {"body": "{}", "source_queue": "points", "attributes": {}}
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps(good) + "\n\n[1]\n" + json.dumps({"body": 3}) + "\n")
    with pytest.raises(ReplayInputError, match=r"2 line\(s\).*x.jsonl:3: .*x.jsonl:4"):
        read_export(path)


def test_replay_reads_attributes_in_sqs_shape(tmp_path: Path) -> None:
    """Attributes come back as (DataType, StringValue) pairs."""
    line = {
        "body": "b",
        "source_queue": "points",
        "attributes": {"brand": {"DataType": "String", "StringValue": "visa"}},
    }
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps(line) + "\n")
    (message,) = read_export(path)
    assert message.attributes == {"brand": ("String", "visa")}


def test_pacer_spaces_messages_at_the_rate() -> None:
    """Six messages at 20/s take at least a quarter of a second."""
    pacer = Pacer(20)
    started = time.monotonic()
    for _ in range(6):
        pacer.wait(1)
    assert time.monotonic() - started >= 0.24
    assert pacer.batch_size == 10
    assert Pacer(2.5).batch_size == 2


def test_rate_must_be_positive() -> None:
    """--rate 0 is refused with a sentence."""
    with pytest.raises(SelectionError, match="positive"):
        Pacer(0)


@pytest.mark.parametrize("rate", [0.5, 2.5, 501])
def test_native_rate_is_a_whole_number_within_sqs_limits(rate: float) -> None:
    """StartMessageMoveTask takes 1…500 messages per second, whole numbers only."""
    with pytest.raises(SelectionError, match="1 to 500"):
        _native_rate(rate)


def test_redriven_copy_drops_the_reason_and_counts_the_redrive() -> None:
    """points.* reasons go, points.redrive_count goes up, other attributes stay."""
    dead = failure_attributes(
        {"brand": ("String", "visa")},
        error_type="x",
        error_message="y",
        source_queue="points",
        receive_count=1,
    )
    assert redriven_attributes(dead) == {
        "brand": ("String", "visa"),
        "points.redrive_count": ("Number", "1"),
    }


def test_redrive_count_yields_to_the_sqs_attribute_limit() -> None:
    """A message that arrived with 10 attributes is redriven with exactly those 10."""
    ten = {f"a{i}": ("String", str(i)) for i in range(10)}
    assert redriven_attributes(ten) == ten
