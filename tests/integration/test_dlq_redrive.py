"""``dlq redrive`` on a real moto server: exactly the selected messages move, nothing else."""

from __future__ import annotations

import time

import pytest

from infra.apply import ApplyResult
from infra.aws import sqs_client
from infra.settings import Config
from ops.errors import NativeRedriveUnsupported, UnknownQueue
from ops.native import native_redrive
from ops.redrive import redrive
from ops.selection import Selection
from tests.support.dlq import (  # noqa: F401 (pytest fixtures)
    FAST,
    attribute_values,
    aws_fixture,
    contract_attributes,
    counts,
    dead_letter_like_worker,
    dead_letter_natively,
    drain,
    event_body,
    ops_db_fixture,
    topo_fixture,
)


def _seed(aws: Config, topo: ApplyResult) -> tuple[str, str, dict[str, str]]:
    """Six dead letters: 3 refunds (invalid_event), 2 clearings (conflict), 1 undecodable."""
    outputs = topo.queues["points"]
    sqs = sqs_client(aws.aws)
    ids: dict[str, str] = {}
    for n in range(3):
        ids[f"r{n}"] = dead_letter_like_worker(
            sqs,
            outputs.dlq_url,
            event_body(f"r{n}", "refund", payment_id=f"pay-{n}"),
            attributes=contract_attributes("refund"),
        )
    for n in range(2):
        ids[f"c{n}"] = dead_letter_like_worker(
            sqs,
            outputs.dlq_url,
            event_body(f"c{n}", "clearing", brand="quicpay"),
            error_type="payment_conflict",
            attributes=contract_attributes("clearing", "quicpay"),
        )
    ids["bad"] = dead_letter_like_worker(sqs, outputs.dlq_url, "{", error_type="invalid_body")
    return outputs.url, outputs.dlq_url, ids


def _event_ids(messages: list[dict[str, object]]) -> set[str]:
    import json

    found = set()
    for message in messages:
        try:
            found.add(json.loads(str(message["Body"]))["event_id"])
        except ValueError:
            found.add("<undecodable>")
    return found


def test_filtered_redrive_moves_exactly_the_selected(aws: Config, topo: ApplyResult) -> None:
    """--where event_type=refund moves the three refunds and leaves the other three."""
    url, dlq_url, _ = _seed(aws, topo)
    summary = redrive(aws, selection=Selection.parse(where=["event_type=refund"]), options=FAST)
    assert summary.as_json() == {"moved": 3, "skipped": 3, "failed": 0, "dry_run": False}
    sqs = sqs_client(aws.aws)
    assert _event_ids(drain(sqs, url)) == {"r0", "r1", "r2"}
    assert _event_ids(drain(sqs, dlq_url)) == {"c0", "c1", "<undecodable>"}


def test_redriven_copy_keeps_body_and_attributes_minus_the_reason(
    aws: Config, topo: ApplyResult
) -> None:
    """The source queue gets the same body and contract attributes, no points.* reason,
    points.redrive_count = 1 and the redrive's id."""
    url, _, _ = _seed(aws, topo)
    summary = redrive(aws, selection=Selection.parse(ids=["r0"]), options=FAST)
    (copy,) = drain(sqs_client(aws.aws), url)
    assert copy["Body"] == event_body("r0", "refund", payment_id="pay-0")
    assert attribute_values(copy) == {
        "event_type": "refund",
        "brand": "visa",
        "schema_version": "1",
        "points.redrive_count": "1",
        "points.redrive_id": str(summary.redrive_id),
    }


def test_id_matches_message_ids_and_event_ids(aws: Config, topo: ApplyResult) -> None:
    """--id takes either kind of id; both are moved."""
    url, _, ids = _seed(aws, topo)
    summary = redrive(aws, selection=Selection.parse(ids=[ids["c0"], "r1"]), options=FAST)
    assert summary.moved == 2
    assert _event_ids(drain(sqs_client(aws.aws), url)) == {"c0", "r1"}


def test_error_type_and_where_keys_combine(aws: Config, topo: ApplyResult) -> None:
    """--error payment_conflict with --where brand=quicpay: both must hold."""
    url, _, _ = _seed(aws, topo)
    selection = Selection.parse(where=["brand=quicpay"], errors=["payment_conflict"])
    assert redrive(aws, selection=selection, options=FAST).moved == 2
    assert _event_ids(drain(sqs_client(aws.aws), url)) == {"c0", "c1"}


def test_dry_run_moves_nothing(aws: Config, topo: ApplyResult) -> None:
    """--dry-run counts what would move; the DLQ keeps all six, the source stays empty."""
    url, dlq_url, _ = _seed(aws, topo)
    summary = redrive(
        aws, selection=Selection.parse(errors=["invalid_event"]), dry_run=True, options=FAST
    )
    assert summary.as_json() == {"moved": 3, "skipped": 3, "failed": 0, "dry_run": True}
    sqs = sqs_client(aws.aws)
    assert counts(sqs, url) == (0, 0)
    assert counts(sqs, dlq_url) == (6, 0)


def test_max_caps_the_number_moved(aws: Config, topo: ApplyResult) -> None:
    """--max 2 moves two and leaves four, all visible again."""
    url, dlq_url, _ = _seed(aws, topo)
    assert redrive(aws, max_messages=2, options=FAST).moved == 2
    sqs = sqs_client(aws.aws)
    assert counts(sqs, url)[0] == 2
    assert counts(sqs, dlq_url) == (4, 0)


def test_rate_paces_the_moves(aws: Config, topo: ApplyResult) -> None:
    """--rate 10 takes about a second to move ten messages (and moves them all)."""
    outputs = topo.queues["points"]
    sqs = sqs_client(aws.aws)
    for n in range(11):
        dead_letter_like_worker(sqs, outputs.dlq_url, event_body(f"e{n}"))
    started = time.monotonic()
    assert redrive(aws, rate=10, options=FAST).moved == 11
    assert time.monotonic() - started >= 0.9


def test_native_dead_letters_are_redriven_too(aws: Config, topo: ApplyResult) -> None:
    """A message SQS moved natively (no reason attached) goes back with its body intact."""
    outputs = topo.queues["points"]
    sqs = sqs_client(aws.aws)
    dead_letter_natively(sqs, outputs.url, outputs.dlq_url, event_body("n1"))
    summary = redrive(aws, selection=Selection.parse(errors=["unknown"]), options=FAST)
    assert summary.moved == 1
    (copy,) = drain(sqs, outputs.url)
    assert copy["Body"] == event_body("n1")


def test_native_redrive_on_moto_is_a_clear_error(aws: Config) -> None:
    """moto lacks StartMessageMoveTask: a NativeRedriveUnsupported naming the way out."""
    with pytest.raises(NativeRedriveUnsupported, match="redrive without --native"):
        native_redrive(aws, queue="points")


def test_native_redrive_refuses_sns_delivery_dlqs(aws: Config) -> None:
    """SQS cannot natively redrive a DLQ fed by SNS; said before calling AWS."""
    with pytest.raises(NativeRedriveUnsupported, match="delivery DLQ"):
        native_redrive(aws, queue="points-delivery-dlq")


def test_unknown_queue_lists_the_known_ones(aws: Config) -> None:
    """A typo in --queue names every queue the operator could have meant."""
    with pytest.raises(UnknownQueue, match="known: points, notifications, points-dlq"):
        redrive(aws, queue="pionts", options=FAST)


def test_delivery_dlq_redrives_to_its_source_queue(aws: Config, topo: ApplyResult) -> None:
    """What SNS parked in points-delivery-dlq goes to the points queue, unexplained or not."""
    outputs = topo.queues["points"]
    delivery_url = outputs.dlq_url.replace("points-dlq", "points-delivery-dlq")
    sqs = sqs_client(aws.aws)
    sqs.send_message(QueueUrl=delivery_url, MessageBody=event_body("parked"))
    summary = redrive(aws, queue="points-delivery-dlq", options=FAST)
    assert summary.moved == 1
    assert _event_ids(drain(sqs, outputs.url)) == {"parked"}
