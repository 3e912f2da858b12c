"""The CloudWatch dashboard of ``points infra template`` (issue 14 item 8)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from consumers.runtime.observability import METRICS_NAMESPACE, BatchMetrics
from infra.cloudformation import render_template
from infra.topology import topology_for

Json = dict[str, Any]


@pytest.fixture(scope="module")
def body() -> Json:
    """The dashboard body as CloudFormation would render it (names substituted)."""
    template = render_template(topology_for("dev-"))
    (dashboard,) = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    text, names = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    for variable, value in names.items():
        queue = value["Fn::GetAtt"][0]
        assert queue in template["Resources"], f"{variable} names a queue the stack lacks"
        text = text.replace(f"${{{variable}}}", f"<{queue}>")
    document: Json = json.loads(text.replace("${AWS::Region}", "ap-northeast-1"))
    return document


def _metrics(body: Json, title: str) -> list[list[Any]]:
    (widget,) = [w for w in body["widgets"] if w["properties"]["title"] == title]
    metrics: list[list[Any]] = widget["properties"]["metrics"]
    return metrics


def test_backlog_and_oldest_age_per_source_queue(body: Json) -> None:
    """Each source queue: visible + in flight, and the age of its oldest message."""
    for queue, logical in (("points", "PointsQueue"), ("notifications", "NotificationsQueue")):
        backlog = _metrics(body, f"{queue}: backlog")
        assert [m[1] for m in backlog] == [
            "ApproximateNumberOfMessagesVisible",
            "ApproximateNumberOfMessagesNotVisible",
        ]
        assert {m[3] for m in backlog} == {f"<{logical}>"}
        (age,) = _metrics(body, f"{queue}: oldest message age (s)")
        assert age[:4] == ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", f"<{logical}>"]


def test_every_dead_letter_queue_depth(body: Json) -> None:
    """The four DLQs (queue and SNS delivery DLQs) on one graph."""
    depths = _metrics(body, "dead-letter queues: depth")
    assert [m[3] for m in depths] == [
        "<PointsDlqQueue>",
        "<PointsDeliveryDlqQueue>",
        "<NotificationsDlqQueue>",
        "<NotificationsDeliveryDlqQueue>",
    ]


def test_worker_metrics_are_the_ones_the_worker_emits(body: Json) -> None:
    """Processed/DeadLettered/Retried/Duplicates and LatencyMs, in the namespace and with the
    dimension of the worker's EMF lines (so a renamed metric breaks this test)."""
    emf = BatchMetrics("points", processed=1, latencies_ms=[5]).emf()
    (directive,) = emf["_aws"]["CloudWatchMetrics"]
    emitted = {m["Name"] for m in directive["Metrics"]}
    outcomes = _metrics(body, "points: outcomes per minute")
    latency = _metrics(body, "points: latency from occurred_at (ms)")
    assert {m[1] for m in outcomes} | {m[1] for m in latency} == emitted
    assert {m[0] for m in outcomes + latency} == {METRICS_NAMESPACE}
    assert {(m[2], m[3]) for m in outcomes + latency} == {("Queue", "points")}
    assert directive["Dimensions"] == [["Queue"]]
    assert [m[4]["stat"] for m in latency] == ["p50", "p99"]


def test_widgets_are_laid_out_within_the_grid(body: Json) -> None:
    """No widget overlaps another or leaves the 24-column grid."""
    cells: set[tuple[int, int]] = set()
    for widget in body["widgets"]:
        assert widget["x"] + widget["width"] <= 24
        mine = {
            (x, y)
            for x in range(widget["x"], widget["x"] + widget["width"])
            for y in range(widget["y"], widget["y"] + widget["height"])
        }
        assert not cells & mine
        cells |= mine
