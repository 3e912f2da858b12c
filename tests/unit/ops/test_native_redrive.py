"""The StartMessageMoveTask request, checked against botocore's own model (Stubber).

moto does not implement the action, so the request AWS would get is pinned here: the
stubber validates parameter names and types against the real SQS service model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from ops.errors import NativeRedriveUnsupported
from ops.native import start_move_task

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

DLQ = "arn:aws:sqs:ap-northeast-1:123456789012:points-dlq"
SOURCE = "arn:aws:sqs:ap-northeast-1:123456789012:points"


def _sqs() -> SQSClient:
    return boto3.session.Session().client(
        "sqs", region_name="ap-northeast-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def test_move_task_goes_from_the_dlq_to_its_source_at_the_rate() -> None:
    """SourceArn is the DLQ, DestinationArn the source queue, --rate the per-second cap."""
    sqs = _sqs()
    with Stubber(sqs) as stub:
        stub.add_response(
            "start_message_move_task",
            {"TaskHandle": "task-1"},
            {"SourceArn": DLQ, "DestinationArn": SOURCE, "MaxNumberOfMessagesPerSecond": 50},
        )
        assert start_move_task(sqs, DLQ, SOURCE, 50) == "task-1"


def test_unsupported_action_is_a_clear_error() -> None:
    """An endpoint that does not know the action gets the one-line way out."""
    sqs = _sqs()
    with Stubber(sqs) as stub:
        stub.add_client_error("start_message_move_task", service_error_code="UnsupportedOperation")
        with pytest.raises(NativeRedriveUnsupported, match="redrive without --native"):
            start_move_task(sqs, DLQ, SOURCE)


def test_other_aws_errors_are_not_disguised() -> None:
    """Access denied stays access denied (it is not "unsupported")."""
    sqs = _sqs()
    with Stubber(sqs) as stub:
        stub.add_client_error("start_message_move_task", service_error_code="AccessDenied")
        with pytest.raises(ClientError, match="AccessDenied"):
            start_move_task(sqs, DLQ, SOURCE)
