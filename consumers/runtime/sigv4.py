"""Signature Version 4 for the worker's SQS requests (``consumers.runtime.sqs``).

The signature botocore's ``SigV4Auth`` computes for the same request (a unit test holds
the two ``Authorization`` headers equal, with and without a session token, on http and
https endpoints), for the one request shape the worker sends: ``POST /`` with no query, a
JSON body and a few headers. What it saves, per request: building an ``AWSRequest`` and
its e-mail-style header map, botocore's general canonicalisation, and four of the five
HMACs (the day's signing key is kept until the date or the secret changes). The profile
put botocore's signing at 0.034 ms of CPU per message, 12 % of the worker's.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final
from urllib.parse import urlsplit

ALGORITHM: Final = "AWS4-HMAC-SHA256"
#: Never signed (botocore's list): a proxy or the HTTP stack may change them.
UNSIGNED: Final = frozenset(
    {
        "authorization",
        "baggage",
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "traceparent",
        "tracestate",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "x-amzn-trace-id",
    }
)


def host_of(url: str) -> str:
    """The ``host`` header SigV4 signs: lowercase, no userinfo, no default port."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    if parts.port is not None and parts.port != {"http": 80, "https": 443}.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


class PostSigner:
    """Signs ``POST /`` requests to one endpoint, region and service."""

    def __init__(self, url: str, region: str, service: str) -> None:
        self._host = host_of(url)
        self._region = region
        self._service = service
        self._key: tuple[str, str, bytes] = ("", "", b"")

    def _signing_key(self, secret: str, day: str) -> bytes:
        if self._key[:2] != (secret, day):
            key = _hmac(("AWS4" + secret).encode("utf-8"), day)
            for part in (self._region, self._service, "aws4_request"):
                key = _hmac(key, part)
            self._key = (secret, day, key)
        return self._key[2]

    def sign(
        self,
        credentials: tuple[str, str, str | None],
        headers: Mapping[str, str],
        body: bytes,
        now: datetime | None = None,
    ) -> dict[str, str]:
        """``headers`` plus ``X-Amz-Date``, the session token if any, and ``Authorization``;
        ``credentials`` are (access key, secret key, session token or None)."""
        access_key, secret_key, token = credentials
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        day = stamp[:8]
        signed = dict(headers)
        signed["X-Amz-Date"] = stamp
        if token:
            signed["X-Amz-Security-Token"] = token
        canonical = {k.lower(): " ".join(v.split()) for k, v in signed.items()}
        canonical = {k: v for k, v in canonical.items() if k not in UNSIGNED}
        canonical["host"] = self._host
        names = sorted(canonical)
        request = "\n".join(
            [
                "POST",
                "/",
                "",
                *(f"{name}:{canonical[name]}" for name in names),
                "",
                ";".join(names),
                hashlib.sha256(body).hexdigest(),
            ]
        )
        scope = f"{day}/{self._region}/{self._service}/aws4_request"
        to_sign = "\n".join(
            [ALGORITHM, stamp, scope, hashlib.sha256(request.encode("utf-8")).hexdigest()]
        )
        signature = hmac.new(
            self._signing_key(secret_key, day), to_sign.encode("utf-8"), hashlib.sha256
        ).hexdigest()
        signed["Authorization"] = (
            f"{ALGORITHM} Credential={access_key}/{scope}, "
            f"SignedHeaders={';'.join(names)}, Signature={signature}"
        )
        return signed
