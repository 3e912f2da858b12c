"""The CloudWatch dashboard an operator opens first in an incident.

Per source queue: the backlog (visible and in flight) and the age of its oldest message;
for all dead-letter queues: their depths; per queue, from the workers' EMF metric lines
(``consumers.runtime.observability``): Processed, DeadLettered, Retried, Duplicates and
LatencyMs (p50, p99). The body is JSON with the queues' deployed names substituted by
CloudFormation (``Fn::Sub``), so the dashboard follows the ``${ResourcePrefix}``.
"""

from __future__ import annotations

import json
from typing import Any, Final

from consumers.runtime.observability import METRICS_NAMESPACE
from infra.cloudformation.names import Json, get_att, logical_id, queue_id
from infra.topology import Topology

#: The EMF metrics a dashboard graph shows as counts per period (``BatchMetrics.emf``).
OUTCOME_METRICS: Final = ("Processed", "DeadLettered", "Retried", "Duplicates")
LATENCY_METRIC: Final = "LatencyMs"
_PERIOD: Final = 60
_HALF: Final = 12


def dashboard(topology: Topology) -> Json:
    """``{"Dashboard": AWS::CloudWatch::Dashboard}`` for every queue of ``topology``."""
    names: dict[str, Any] = {}
    widgets: list[Json] = []
    for spec in topology.queues:
        source = _name_variable(names, spec.name)
        widgets += [
            _graph(
                f"{spec.name}: backlog",
                [
                    _sqs("ApproximateNumberOfMessagesVisible", source, "visible"),
                    _sqs("ApproximateNumberOfMessagesNotVisible", source, "in flight"),
                ],
            ),
            _graph(
                f"{spec.name}: oldest message age (s)",
                [_sqs("ApproximateAgeOfOldestMessage", source, "oldest")],
            ),
        ]
    dlqs = [
        _sqs("ApproximateNumberOfMessagesVisible", _name_variable(names, dlq), dlq)
        for spec in topology.queues
        for dlq in (spec.dlq_name, spec.delivery_dlq_name)
    ]
    widgets.append(_graph("dead-letter queues: depth", dlqs, width=24))
    for spec in topology.queues:
        widgets += [
            _graph(
                f"{spec.name}: outcomes per minute",
                [_emf(metric, spec.name, "Sum", metric) for metric in OUTCOME_METRICS],
            ),
            _graph(
                f"{spec.name}: latency from occurred_at (ms)",
                [_emf(LATENCY_METRIC, spec.name, p, p) for p in ("p50", "p99")],
            ),
        ]
    body = {"widgets": _placed(widgets)}
    return {
        "Dashboard": {
            "Type": "AWS::CloudWatch::Dashboard",
            "Properties": {
                "DashboardName": {"Fn::Sub": "${ResourcePrefix}points-pipeline"},
                "DashboardBody": {"Fn::Sub": [json.dumps(body, sort_keys=True), names]},
            },
        }
    }


def _name_variable(names: dict[str, Any], queue: str) -> str:
    """A ``Fn::Sub`` variable holding the deployed name of ``queue``; returns ``${Var}``."""
    variable = logical_id(queue, "name")
    names[variable] = get_att(queue_id(queue), "QueueName")
    return f"${{{variable}}}"


def _sqs(metric: str, queue_name: str, label: str) -> list[Any]:
    return ["AWS/SQS", metric, "QueueName", queue_name, {"stat": "Maximum", "label": label}]


def _emf(metric: str, queue: str, stat: str, label: str) -> list[Any]:
    return [METRICS_NAMESPACE, metric, "Queue", queue, {"stat": stat, "label": label}]


def _graph(title: str, metrics: list[list[Any]], width: int = _HALF) -> Json:
    return {
        "type": "metric",
        "width": width,
        "height": 6,
        "properties": {
            "title": title,
            "view": "timeSeries",
            "region": "${AWS::Region}",
            "period": _PERIOD,
            "metrics": metrics,
        },
    }


def _placed(widgets: list[Json]) -> list[Json]:
    """Left to right, two half-width graphs a row (full-width ones take their own)."""
    x = y = 0
    for widget in widgets:
        if x + widget["width"] > 24:
            x, y = 0, y + widget["height"]
        widget["x"], widget["y"] = x, y
        x += widget["width"]
    return widgets
