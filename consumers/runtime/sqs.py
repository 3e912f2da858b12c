"""SQS's JSON protocol on aiohttp, signed with SigV4: the worker's hot path.

Why not the aiobotocore client for every call: a ``ReceiveMessage`` or
``DeleteMessageBatch`` through it runs botocore's whole per-call machinery (event hooks,
endpoint rule set, parameter validation, model-driven serialisation and parsing) and cost
0.19–0.23 ms of CPU per message for a receive(10) + delete(10) on fauxqs, against
0.07 ms for the same two requests built here (``benchmarks/cpu_profile.py`` splits it).
SQS speaks JSON (``X-Amz-Target: AmazonSQS.<Operation>``), so a request is a small dict
and a response a parsed document (orjson: a third of ``json.loads``'s CPU on a
ReceiveMessage of 10) whose keys are the API's member names: the shapes
callers read are the ones botocore would have returned (binary attribute values stay
base64 text; the runtime ignores them).

What stays botocore's, so that the same code runs on real AWS: the credentials (the
session's provider chain — environment, profile, ECS task role, instance metadata —
refreshed before they expire), the endpoint and region (resolved once at start-up by an
aiobotocore client, ``AWS_ENDPOINT_URL`` included), the CA bundle, and the exceptions:
an error response raises the client's own modelled ``ClientError`` subclass with the
same ``Error.Code`` botocore would give (SQS's query-compatible code, e.g.
``AWS.SimpleQueueService.NonExistentQueue``), and a failure of the connection raises
botocore's connection errors, as aiobotocore maps them. The signature is
``consumers.runtime.sigv4``'s, held equal to botocore's ``SigV4Auth`` by a unit test.
Like the botocore clients of this project (``infra.aws``), nothing is retried here.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import urllib.request
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import urlsplit

import aiohttp
import orjson
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError

from consumers.runtime.sigv4 import PostSigner

if TYPE_CHECKING:
    from aiobotocore.session import AioSession
    from botocore.credentials import ReadOnlyCredentials
    from types_aiobotocore_sqs import SQSClient

CONTENT_TYPE: Final = "application/x-amz-json-1.0"
TARGET_PREFIX: Final = "AmazonSQS."
SIGNING_NAME: Final = "sqs"


class CredentialSource(Protocol):
    """aiobotocore's (refreshable) credentials: frozen on each call, refreshed when due."""

    async def get_frozen_credentials(self) -> ReadOnlyCredentials: ...


ErrorClasses = Callable[[str], type[ClientError]]


class SqsApi:
    """``call(operation, params)`` → the response document, on one aiohttp session."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        endpoint_url: str,
        region: str,
        credentials: CredentialSource | None,
        error_class: ErrorClasses = lambda code: ClientError,
        proxy: str | None = None,
    ) -> None:
        self._http = http
        self._proxy = proxy
        self._url = endpoint_url.rstrip("/") + "/"
        self._region = region
        self._credentials = credentials
        self._error_class = error_class
        self._signer = PostSigner(self._url, region, SIGNING_NAME)

    async def call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        body = _json_bytes(params)
        headers = await self._signed_headers(operation, body)
        try:
            async with self._http.post(
                self._url, data=body, headers=headers, proxy=self._proxy
            ) as response:
                payload = await response.read()
                status = response.status
                query_error = response.headers.get("x-amzn-query-error")
        except asyncio.CancelledError:
            raise
        except Exception as error:
            raise connection_error(self._url, error) from error
        if status >= 300:
            raise self._client_error(operation, status, payload, query_error)
        try:
            document: dict[str, Any] = _parsed(payload) if payload else {}
        except ValueError as error:  # e.g. a proxy's HTML page
            raise ResponseParserError(f"{operation}: the response is not JSON") from error
        return document

    async def _signed_headers(self, operation: str, body: bytes) -> dict[str, str]:
        if self._credentials is None:
            raise NoCredentialsError()
        frozen = await self._credentials.get_frozen_credentials()
        if frozen.access_key is None or frozen.secret_key is None:
            raise NoCredentialsError()
        headers = self._signer.sign(
            (frozen.access_key, frozen.secret_key, frozen.token),
            {
                "Content-Type": CONTENT_TYPE,
                "X-Amz-Target": TARGET_PREFIX + operation,
                "x-amzn-query-mode": "true",
            },
            body,
        )
        headers["Accept-Encoding"] = "identity"  # as aiobotocore sends it
        return headers

    def _client_error(
        self, operation: str, status: int, payload: bytes, query_error: str | None
    ) -> ClientError:
        """The exception botocore's JSON parser and SQS handler would raise for this reply."""
        try:
            body = json.loads(payload) if payload else {}
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        shape = str(body.get("__type") or status).split(":", 1)[0].rsplit("#", 1)[-1]
        code = shape
        parts = (query_error or "").split(";")
        if len(parts) == 2 and parts[0]:
            code = parts[0]
        parsed: dict[str, Any] = {
            "Error": {"Code": code, "Message": str(body.get("message", body.get("Message", "")))},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        if code != shape:
            parsed["Error"]["QueryErrorCode"] = shape
        # The modelled class comes from the shape name (botocore's SQS compatibility hook).
        return self._error_class(shape)(parsed, operation)  # type: ignore[arg-type]


def _json_bytes(params: Mapping[str, Any]) -> bytes:
    """A request body: orjson (a tenth of ``json.dumps``'s CPU), which writes non-ASCII as
    UTF-8 where ``json.dumps`` escapes it: the same JSON text for SQS. What orjson refuses
    (a lone surrogate, which SQS refuses too) is left to ``json.dumps`` and to SQS, as before."""
    try:
        return orjson.dumps(params)
    except orjson.JSONEncodeError:
        return json.dumps(params, separators=(",", ":")).encode("utf-8")


def _parsed(payload: bytes) -> Any:
    """A response document: orjson, or ``json.loads`` where orjson is stricter (a lone
    surrogate escape, which an emulator may hand back): the body then reaches
    ``schemas.envelope``, which dead-letters it with its reason."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return json.loads(payload)


def connection_error(url: str, error: BaseException) -> Exception:
    """aiohttp's failure as the botocore exception aiobotocore raises for it."""
    if isinstance(error, aiohttp.ClientSSLError):
        from botocore.exceptions import SSLError

        return SSLError(endpoint_url=url, error=error)
    if isinstance(
        error,
        aiohttp.ServerDisconnectedError
        | aiohttp.ClientPayloadError
        | aiohttp.http_exceptions.BadStatusLine,
    ):
        return ConnectionClosedError(error=error, endpoint_url=url)
    if isinstance(error, aiohttp.ServerTimeoutError):
        if str(error).lower().startswith("connect"):
            return ConnectTimeoutError(endpoint_url=url, error=error)
        return ReadTimeoutError(endpoint_url=url, error=error)
    if isinstance(error, aiohttp.ClientConnectionError | socket.gaierror):
        return EndpointConnectionError(endpoint_url=url, error=error)
    if isinstance(error, asyncio.TimeoutError):
        return ReadTimeoutError(endpoint_url=url, error=error)
    return HTTPClientError(error=error)


def _ssl_context(session: AioSession) -> ssl.SSLContext:
    """botocore's verification: ``AWS_CA_BUNDLE``/``ca_bundle`` if set, else its bundle."""
    from botocore.httpsession import get_cert_path

    bundle = session.get_config_variable("ca_bundle")
    return ssl.create_default_context(cafile=get_cert_path(bundle or True))


@asynccontextmanager
async def open_sqs_api(
    session: AioSession, client: SQSClient, *, connections: int
) -> AsyncIterator[SqsApi]:
    """An ``SqsApi`` beside an aiobotocore SQS client, on a connection pool of its own.

    The client (already created by the caller, used at start-up for ``GetQueueUrl``)
    gives the resolved endpoint, region, timeouts and modelled exceptions, so endpoint
    resolution stays botocore's. Proxies come from the environment
    (``HTTPS_PROXY``/``NO_PROXY``), as botocore reads them, once: aiohttp's
    ``trust_env`` would look them (and ``~/.netrc``) up in a thread on every request.
    """
    credentials = await session.get_credentials()
    config: Any = client.meta.config  # connect_timeout, read_timeout: not in the stubs
    connector = aiohttp.TCPConnector(
        limit=connections, keepalive_timeout=12, ssl=_ssl_context(session)
    )
    timeout = aiohttp.ClientTimeout(
        sock_connect=config.connect_timeout, sock_read=config.read_timeout
    )
    errors: Any = client.exceptions
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, auto_decompress=False
    ) as http:
        endpoint = client.meta.endpoint_url
        yield SqsApi(
            http,
            endpoint,
            client.meta.region_name,
            credentials,
            errors.from_code,
            proxy=environment_proxy(endpoint),
        )


def environment_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``HTTP(S)_PROXY`` minus ``NO_PROXY``)."""
    parts = urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies_environment().get(parts.scheme)
