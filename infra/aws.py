"""Building AWS clients from resolved settings.

botocore's own retries are switched off: tenacity policies in our code are the one place
that decides what is retried, how often and with what backoff, so attempts never multiply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from infra.settings import AwsSettings

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sts import STSClient

#: Seconds; long polls (20 s) need a read timeout above their wait time.
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 30


def botocore_config(max_pool_connections: int = 10) -> Config:
    return Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        max_pool_connections=max_pool_connections,
    )


def client_kwargs(aws: AwsSettings) -> dict[str, Any]:
    """Keyword arguments shared by boto3 and aiobotocore client constructors."""
    kwargs: dict[str, Any] = {"region_name": aws.region or None, "config": botocore_config()}
    if aws.endpoint_url:
        kwargs["endpoint_url"] = aws.endpoint_url
    return kwargs


def session(aws: AwsSettings) -> boto3.session.Session:
    """A boto3 session on the configured profile (credentials as boto3 resolves them)."""
    return boto3.session.Session(profile_name=aws.profile)


def sns_client(aws: AwsSettings) -> SNSClient:
    return session(aws).client("sns", **client_kwargs(aws))


def sqs_client(aws: AwsSettings) -> SQSClient:
    return session(aws).client("sqs", **client_kwargs(aws))


def sts_client(aws: AwsSettings) -> STSClient:
    return boto3.session.Session().client("sts", **client_kwargs(aws))


# Error codes AWS uses for "slow down" and "our side failed": worth another attempt.
_RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "KMSThrottlingException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


def is_retryable_aws_error(exc: BaseException) -> bool:
    """Throttling, 5xx and connection-level failures; never a 4xx that says we are wrong."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error.get("Code", "") in _RETRYABLE_CODES or status >= 500
    return isinstance(exc, (BotoConnectionError, HTTPClientError, ConnectionError, TimeoutError))
