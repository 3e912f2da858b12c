"""The worker's SigV4 signer against botocore's ``SigV4Auth``, the reference."""

from __future__ import annotations

from datetime import datetime

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from consumers.runtime.sigv4 import PostSigner, host_of

HEADERS = {
    "Content-Type": "application/x-amz-json-1.0",
    "X-Amz-Target": "AmazonSQS.ReceiveMessage",
    "x-amzn-query-mode": "true",
}
BODY = b'{"QueueUrl":"https://sqs.ap-northeast-1.amazonaws.com/123456789012/points"}'


def _botocore(url: str, credentials: Credentials, body: bytes) -> dict[str, str]:
    request = AWSRequest(method="POST", url=url, data=body, headers=dict(HEADERS))
    SigV4Auth(credentials, "sqs", "ap-northeast-1").add_auth(request)
    return dict(request.headers.items())


@pytest.mark.parametrize(
    "url",
    [
        "https://sqs.ap-northeast-1.amazonaws.com/",
        "https://sqs.ap-northeast-1.amazonaws.com:443/",
        "http://127.0.0.1:4566/",
        "http://LOCALHOST:80/",
        "http://[::1]:9324/",
    ],
)
@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEJr//////////session+token/="])
def test_signature_is_botocores_for_the_same_request(url: str, token: str | None) -> None:
    """Same endpoint, credentials, headers, body and instant: the same Authorization header
    (and the same date and token headers), so real SQS accepts what botocore's would."""
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    expected = _botocore(url, credentials, BODY)
    now = datetime.strptime(expected["X-Amz-Date"] + "+0000", "%Y%m%dT%H%M%SZ%z")
    ours = PostSigner(url, "ap-northeast-1", "sqs").sign(
        ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token), HEADERS, BODY, now
    )
    assert ours["Authorization"] == expected["Authorization"]
    assert ours["X-Amz-Date"] == expected["X-Amz-Date"]
    assert ours.get("X-Amz-Security-Token") == expected.get("X-Amz-Security-Token")


def test_the_kept_signing_key_follows_the_day_and_the_secret() -> None:
    """A new day or a rotated secret (refreshed task-role credentials) re-derives the key:
    each signature still equals botocore's."""
    url = "https://sqs.ap-northeast-1.amazonaws.com/"
    signer = PostSigner(url, "ap-northeast-1", "sqs")
    for secret in ("first-secret", "first-secret", "rotated-secret"):
        credentials = Credentials("AKID", secret, "token")
        expected = _botocore(url, credentials, BODY)
        now = datetime.strptime(expected["X-Amz-Date"] + "+0000", "%Y%m%dT%H%M%SZ%z")
        ours = signer.sign(("AKID", secret, "token"), HEADERS, BODY, now)
        assert ours["Authorization"] == expected["Authorization"]


def test_host_drops_default_ports_and_userinfo() -> None:
    """The signed host is what botocore derives from the endpoint URL."""
    assert host_of("https://user:pw@SQS.example.com:443/") == "sqs.example.com"
    assert host_of("http://127.0.0.1:8080/") == "127.0.0.1:8080"
    assert host_of("http://[::1]:80/") == "[::1]"
