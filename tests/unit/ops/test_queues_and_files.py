"""Naming DLQs, export lines, purge guards and pacing: the pure parts of ``points dlq``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from consumers.runtime.deadletter import failure_attributes, redrive_mark, without_failure
from infra.settings import AwsSettings, Config, PointsSettings
from infra.topology import topology_for
from ops.dlq_queues import dead_letter_queues, find_dlq, find_target
from ops.errors import PurgeRefused, ReplayInputError, SelectionError, UnknownQueue
from ops.export import marker_path, read_marker, write_marker
from ops.native import native_rate
from ops.purge import exported_ids
from ops.redrive import Pacer
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
    export = tmp_path / "x.jsonl"
    export.write_text("")
    write_marker(tmp_path, _config("http://127.0.0.1:4566"), dlq, export, 3)
    assert read_marker(tmp_path, _config(None), dlq) is None
    marker = read_marker(tmp_path, _config("http://127.0.0.1:4566"), dlq)
    assert marker is not None
    assert marker.exported == 3
    assert (
        marker_path(tmp_path, _config(None), dlq).name == "aws_ap_northeast_1_dev_points_dlq.json"
    )


def _exported(tmp_path: Path, *lines: dict[str, object]) -> Path:
    """An export file of these lines, with its marker."""
    path = tmp_path / "x.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    write_marker(tmp_path, _config(None), find_dlq(TOPOLOGY, "points"), path, len(lines))
    return path


def test_purge_takes_the_ids_of_the_export_of_that_queue(tmp_path: Path) -> None:
    """The export's message ids of this DLQ, not a count."""
    _exported(
        tmp_path,
        {"queue": "points-dlq", "message_id": "a"},
        {"queue": "points-dlq", "message_id": "b"},
        {"queue": "notifications-dlq", "message_id": "c"},
    )
    found = exported_ids(_config(None), find_dlq(TOPOLOGY, "points"), tmp_path)
    assert found.ids == {"a", "b"}


def test_purge_refuses_without_a_complete_export(tmp_path: Path) -> None:
    """No marker (no export, or an interrupted one): refused, naming the command."""
    with pytest.raises(PurgeRefused, match="points dlq export"):
        exported_ids(_config(None), find_dlq(TOPOLOGY, "points"), tmp_path)


def test_purge_refuses_an_export_file_changed_since(tmp_path: Path) -> None:
    """A line added to the file after the export does not license deleting that message."""
    path = _exported(tmp_path, {"queue": "points-dlq", "message_id": "a"})
    with path.open("a") as handle:
        handle.write(json.dumps({"queue": "points-dlq", "message_id": "b"}) + "\n")
    with pytest.raises(PurgeRefused, match="changed since"):
        exported_ids(_config(None), find_dlq(TOPOLOGY, "points"), tmp_path)


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
        native_rate(rate)


def test_redriven_copy_drops_the_reason_counts_and_marks_the_redrive() -> None:
    """points.* reasons go, points.redrive_count goes up, the redrive's id marks the copy,
    other attributes stay."""
    dead = failure_attributes(
        {"brand": ("String", "visa")},
        error_type="x",
        error_message="y",
        receive_count=1,
        message_id="m-1",
    )
    assert without_failure(dead, 7) == {
        "brand": ("String", "visa"),
        "points.redrive_count": ("Number", "1"),
        "points.redrive_id": ("Number", "7"),
    }


def test_the_redrive_mark_survives_dead_lettering_again() -> None:
    """The worker's DLQ copy of a redriven message keeps the redrive's id."""
    copy = without_failure({"event_type": ("String", "refund")}, 42)
    again = failure_attributes(
        copy, error_type="x", error_message="y", receive_count=1, message_id="m-2"
    )
    assert redrive_mark(again) == 42


def test_redrive_marks_win_over_extra_attributes_at_the_sqs_limit() -> None:
    """A message that arrived with 10 attributes keeps the contract's and the redrive marks;
    the extra attributes last by name give way."""
    ten = {f"a{i}": ("String", str(i)) for i in range(7)}
    ten |= {"event_type": ("String", "refund"), "brand": ("String", "visa")}
    ten |= {"schema_version": ("Number", "1")}
    copy = without_failure(ten, 3)
    assert len(copy) == 10
    assert redrive_mark(copy) == 3
    assert {"event_type", "brand", "schema_version", "points.redrive_count"} <= set(copy)
    assert not {"a5", "a6"} & set(copy)


def test_a_full_redriven_copy_still_fits_when_dead_lettered_again() -> None:
    """Contract, both redrive marks and the five reason attributes: exactly 10."""
    copy = without_failure({"event_type": ("String", "refund"), "extra": ("String", "x")}, 3)
    copy |= {"brand": ("String", "visa"), "schema_version": ("Number", "1")}
    again = failure_attributes(
        copy, error_type="x", error_message="y", receive_count=1, message_id="m"
    )
    assert len(again) == 10
    assert redrive_mark(again) == 3
