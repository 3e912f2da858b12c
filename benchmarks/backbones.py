"""The messaging backbones the benchmarks run on, and how their costs are read.

- ``Fauxqs``: the npm SNS/SQS emulator (``benchmarks/fauxqs``, installed by ``make bench``)
  as a child process on loopback; its CPU time is read from its process, not ours.
- ``moto``: ``infra.local.EmbeddedAws`` (DESIGN §8: far too slow to be a yardstick; any
  figure on it is labelled moto-bound).
- The in-memory transport lives in the worker process itself (``consumers.runtime.memory``).

fauxqs 1.9.2 refuses ``SqsManagedSseEnabled`` (``infra.apply`` sets it), so on fauxqs the
points topology is declared here without SSE and queue policies: topic ``payment-events``,
queue ``points`` with its DLQ and redrive policy, a raw-delivery subscription with the
topology's filter policy.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import resource
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final, TextIO

import boto3
import psutil

from infra.aws import botocore_config
from infra.local import DUMMY_CREDENTIALS, LOOPBACK, free_port, stop_process
from infra.settings import DEFAULT_REGION
from infra.topology import DEFAULT_TOPOLOGY, redrive_policy

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

FAUXQS_DIR: Final = Path(__file__).with_name("fauxqs")
START_TIMEOUT_SECONDS: Final = 20.0


class BackboneUnavailable(RuntimeError):
    """The emulator is not installed (run ``make bench``) or did not start."""


@dataclass(frozen=True)
class QueueSet:
    topic_arn: str
    url: str
    dlq_url: str


class Fauxqs:
    """``with Fauxqs() as f:`` runs ``node benchmarks/fauxqs/server.mjs`` on 127.0.0.1."""

    def __init__(self) -> None:
        self.port = free_port()
        self._process: subprocess.Popen[str] | None = None
        self._stdout: IO[str] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": DEFAULT_REGION,
            "AWS_DEFAULT_REGION": DEFAULT_REGION,
            **DUMMY_CREDENTIALS,
        }

    def __enter__(self) -> Fauxqs:
        node = shutil.which("node")
        if node is None or not (FAUXQS_DIR / "node_modules" / "fauxqs").is_dir():
            raise BackboneUnavailable("fauxqs is not installed: run `make bench`")
        self._process = subprocess.Popen(
            [node, str(FAUXQS_DIR / "server.mjs"), str(self.port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "FAUXQS_DEFAULT_REGION": DEFAULT_REGION},
        )
        assert self._process.stdout is not None
        self._stdout = self._process.stdout
        line = self._stdout.readline()
        if not line.startswith("listening"):
            self.__exit__(None, None, None)
            raise BackboneUnavailable(f"fauxqs did not start (said {line!r})")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None:
            stop_process(self._process)
        if self._stdout is not None:
            self._stdout.close()
        self._process = None


def clients(endpoint_url: str) -> tuple[SNSClient, SQSClient]:
    session = boto3.session.Session(
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=DEFAULT_REGION,
    )
    config = botocore_config(max_pool_connections=16)
    sns = session.client("sns", endpoint_url=endpoint_url, config=config)
    sqs = session.client("sqs", endpoint_url=endpoint_url, config=config)
    return sns, sqs


def points_topology(endpoint_url: str) -> QueueSet:
    """Topic → raw-delivery subscription (filter policy) → ``points`` queue with its DLQ."""
    sns, sqs = clients(endpoint_url)
    spec = DEFAULT_TOPOLOGY.queue("points")
    dlq_url = sqs.create_queue(QueueName=spec.dlq_name)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = sqs.create_queue(
        QueueName=spec.name,
        Attributes={
            "VisibilityTimeout": str(spec.visibility_timeout_seconds),
            "RedrivePolicy": json.dumps(redrive_policy(dlq_arn, spec.max_receive_count)),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    topic_arn = sns.create_topic(Name=DEFAULT_TOPOLOGY.topic_name)["TopicArn"]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true", "FilterPolicy": spec.filter_policy_json()},
    )
    return QueueSet(topic_arn, url, dlq_url)


def _attributes(body: str) -> dict[str, dict[str, str]]:
    document = json.loads(body)
    return {
        "event_type": {"DataType": "String", "StringValue": str(document["event_type"])},
        "brand": {"DataType": "String", "StringValue": str(document["brand"])},
        "schema_version": {"DataType": "Number", "StringValue": "1"},
    }


def _send_in_batches(
    bodies: Sequence[str], threads: int, send: Callable[[Sequence[str]], object]
) -> float:
    """Send bodies in chunks of 10 from ``threads`` threads; msg/s."""
    chunks = [bodies[i : i + 10] for i in range(0, len(bodies), 10)]
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, chunks))
    return len(bodies) / (time.perf_counter() - started)


def publish(endpoint_url: str, topic_arn: str, bodies: Sequence[str], threads: int = 4) -> float:
    """Publish through SNS (PublishBatch of 10, with the producers' attributes); msg/s."""
    sns, _ = clients(endpoint_url)
    return _send_in_batches(
        bodies,
        threads,
        lambda chunk: sns.publish_batch(
            TopicArn=topic_arn,
            PublishBatchRequestEntries=[
                {"Id": str(i), "Message": b, "MessageAttributes": _attributes(b)}  # type: ignore[typeddict-item]
                for i, b in enumerate(chunk)
            ],
        ),
    )


def send_direct(endpoint_url: str, url: str, bodies: Sequence[str], threads: int = 4) -> float:
    """Fill a queue with SendMessageBatch (no SNS hop; for big backlogs); msg/s."""
    _, sqs = clients(endpoint_url)
    return _send_in_batches(
        bodies,
        threads,
        lambda chunk: sqs.send_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "MessageBody": b, "MessageAttributes": _attributes(b)}  # type: ignore[typeddict-item]
                for i, b in enumerate(chunk)
            ],
        ),
    )


def depth(endpoint_url: str, url: str) -> int:
    """Visible + in flight + delayed, as SQS reports them."""
    _, sqs = clients(endpoint_url)
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return sum(int(v) for v in attributes.values())


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds of a process (default: this one)."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def postgres_cpu_seconds(database: str) -> float:
    """CPU seconds of the live PostgreSQL backends serving ``database`` (ours alone: a
    scratch database). Read before the engine is disposed, while the backends still live."""
    total = 0.0
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(process.info.get("cmdline") or [])
        if process.info.get("name") == "postgres" and f" {database} " in f"{cmdline} ":
            with contextlib.suppress(psutil.Error):
                total += cpu_seconds(process.pid)
    return total


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB.

    ``VmHWM`` of /proc/self/status, not ``getrusage``: ``ru_maxrss`` survives ``execve``, so
    a spawned child would report its (bigger) parent's peak from before the exec.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def json_logs_to_devnull() -> Iterator[TextIO]:
    """The worker's production logging (JSON lines at INFO), written to /dev/null; the
    ``points`` logger's previous handlers, level and propagation are restored after."""
    from consumers.runtime.observability import configure_json_logging

    points = logging.getLogger("points")
    saved = (list(points.handlers), points.level, points.propagate)
    with open(os.devnull, "w") as devnull:
        configure_json_logging(logging.INFO, devnull)
        try:
            yield devnull
        finally:
            points.handlers[:], points.level, points.propagate = saved


@contextmanager
def environment(variables: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
