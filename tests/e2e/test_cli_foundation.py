"""The ``points`` command for the foundation: infra apply, publish, schemas, demo."""

from __future__ import annotations

import json
from pathlib import Path

from infra.aws import sqs_client
from infra.settings import Config
from tests.support.cli import run_points
from tests.support.factories import body


def test_infra_apply_json_is_stable(aws: Config) -> None:
    """``points infra apply --json`` prints the same document on every run."""
    first = run_points("infra", "apply", "--json")
    second = run_points("infra", "apply", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == json.loads(second.stdout)


def test_publish_file_reaches_the_queue(aws: Config, tmp_path: Path) -> None:
    """``points publish --file`` publishes every line through the topic."""
    run_points("infra", "apply")
    events = tmp_path / "events.jsonl"
    events.write_text(body(event_id="a") + "\n\n" + body("clearing", event_id="b") + "\n")
    result = run_points("publish", "--file", str(events), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["published"] == 2
    url = sqs_client(aws.aws).get_queue_url(QueueName="points")["QueueUrl"]
    attributes = sqs_client(aws.aws).get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "2"


def test_publish_refuses_a_file_with_a_bad_line(aws: Config, tmp_path: Path) -> None:
    """One invalid line: exit 2, the line is named, nothing is published, no traceback."""
    run_points("infra", "apply")
    events = tmp_path / "events.jsonl"
    events.write_text(body(event_id="a") + "\n" + body(amount=0) + "\n")
    result = run_points("publish", "--file", str(events))
    assert result.returncode == 2
    assert "events.jsonl:2: authorization.amount" in result.stderr
    assert "Traceback" not in result.stderr
    url = sqs_client(aws.aws).get_queue_url(QueueName="points")["QueueUrl"]
    attributes = sqs_client(aws.aws).get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"


def test_publish_without_topology_names_the_fix(aws: Config, tmp_path: Path) -> None:
    """Publishing before `infra apply` fails with one line that says what to run."""
    events = tmp_path / "events.jsonl"
    events.write_text(body() + "\n")
    result = run_points("publish", "--file", str(events))
    assert result.returncode != 0
    assert "points infra apply" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    """A path that does not exist is reported without a traceback."""
    result = run_points("publish", "--file", str(tmp_path / "nope.jsonl"))
    assert result.returncode == 2
    assert "cannot read" in result.stderr
    assert "Traceback" not in result.stderr


def test_schema_export_to_stdout() -> None:
    """``points schemas export`` prints the JSON Schema."""
    result = run_points("schemas", "export")
    assert result.returncode == 0
    assert json.loads(result.stdout)["title"] == "PaymentEvent v1"
