"""Shared machinery of the fault-injection tests: worker processes, outages, queue reads.

Workers are the real ``points worker`` console script in child processes (so SIGKILL and
SIGTERM are real), configured through ``POINTS_WORKER_*`` exactly as on ECS.

PostgreSQL outages: by default the workers reach the server through a ``TcpProxy`` that is
cut and restored (other test sessions share the server on a laptop). With
``POINTS_CHAOS_RESTART_POSTGRES=1`` (set by ``.ci/run``, where the tests run alone) the
real server is restarted with ``pg_ctlcluster`` and the test waits for it to accept
connections again.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa

from consumers.points.tables import KIND_EVENT, ledger_entries, ledger_events
from consumers.runtime.deadletter import read_failure
from consumers.runtime.transport import decode_attributes
from infra.apply import ApplyResult, apply_topology
from infra.aws import sns_client, sqs_client
from infra.resolve import topology
from tests.support.cli import POINTS
from tests.support.proxy import TcpProxy

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef
    from sqlalchemy.engine import URL

    from infra.settings import Config

RESTART_ENV: Final = "POINTS_CHAOS_RESTART_POSTGRES"
#: Which cluster ``pg_ctlcluster`` restarts (the server the test database lives on).
CLUSTER_ENV: Final = "POINTS_CHAOS_POSTGRES_CLUSTER"
#: The queue's visibility timeout in these tests (the topology's is 60 s): how long the
#: messages a SIGKILLed worker held stay hidden before another worker gets them.
VISIBILITY_SECONDS: Final = 8

#: Worker tuning for fault tests: short polls (fast stop), short backoff, quick heartbeat.
CHAOS_WORKER_ENV: Final = {
    "POINTS_WORKER_CONCURRENCY": "2",
    "POINTS_WORKER_WAIT_SECONDS": "1",
    "POINTS_WORKER_VISIBILITY_TIMEOUT": str(VISIBILITY_SECONDS),
    "POINTS_WORKER_HEARTBEAT_SECONDS": "2",
    "POINTS_WORKER_BACKOFF_BASE_SECONDS": "1",
    "POINTS_WORKER_BACKOFF_MAX_SECONDS": "4",
    "POINTS_WORKER_TRANSIENT_WAIT_INITIAL": "0.1",
    "POINTS_WORKER_TRANSIENT_WAIT_MAX": "1",
    "POINTS_WORKER_SHUTDOWN_GRACE_SECONDS": "15",
    "POINTS_WORKER_DRAIN_IDLE_SECONDS": "2",
}


def points_queue(aws: Config) -> tuple[ApplyResult, SQSClient]:
    """The topology applied to the emulator, its points queue's visibility timeout cut to
    ``VISIBILITY_SECONDS``: what a SIGKILLed worker held comes back within the test."""
    sqs = sqs_client(aws.aws)
    applied = apply_topology(topology(aws), sns_client(aws.aws), sqs)
    sqs.set_queue_attributes(
        QueueUrl=applied.queues["points"].url,
        Attributes={"VisibilityTimeout": str(VISIBILITY_SECONDS)},
    )
    return applied, sqs


def real_restart_enabled() -> bool:
    return os.environ.get(RESTART_ENV, "").lower() in {"1", "true", "yes"}


@dataclass
class WorkerPool:
    """N ``points worker`` processes on one queue and one database."""

    database_url: str
    logs: Path
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    starts: Counter[int] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Wall-clock time of the last ``sigterm_all`` (log lines carry wall-clock stamps).
    sigterm_at: float = float("inf")

    def log_path(self, index: int, generation: int) -> Path:
        return self.logs / f"worker{index}.{generation}.log"

    def start(self, index: int) -> None:
        with self.lock:
            self.starts[index] += 1
            log = self.log_path(index, self.starts[index]).open("wb")
            env = {
                **os.environ,
                **CHAOS_WORKER_ENV,
                **self.env,
                "POINTS_WORKER_HEALTH_FILE": str(self.logs / f"worker{index}.health"),
            }
            self.processes[index] = subprocess.Popen(
                [
                    str(POINTS),
                    "--database-url",
                    self.database_url,
                    "worker",
                    "--queue",
                    "points",
                    "--no-metrics",
                    *self.extra_args,
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            log.close()

    def wait_started(self, index: int, timeout: float = 60) -> None:
        """Until the newest generation of worker ``index`` logged "worker started" (its
        signal handlers are installed: a SIGTERM before that is Python's default death)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                path = self.log_path(index, self.starts[index])
            if '"worker started"' in path.read_text(errors="replace"):
                return
            assert time.monotonic() < deadline, f"worker {index} did not start"
            time.sleep(0.1)

    def exited(self) -> list[int]:
        """Workers whose process has ended."""
        with self.lock:
            return [i for i, p in self.processes.items() if p.poll() is not None]

    def kill(self, index: int) -> None:
        with self.lock:
            process = self.processes[index]
            process.send_signal(signal.SIGKILL)
            process.wait()

    def terminate_all(self, timeout: float = 30) -> dict[int, tuple[int | None, float]]:
        """SIGTERM every worker at once; (exit code, seconds to exit) per worker."""
        return self.wait_all(self.sigterm_all(), timeout)

    def sigterm_all(self) -> float:
        """SIGTERM every worker at once; returns when (``time.monotonic()``)."""
        with self.lock:
            self.sigterm_at = time.time()
            sent = time.monotonic()
            for process in self.processes.values():
                process.send_signal(signal.SIGTERM)
            return sent

    def wait_all(self, sent: float, timeout: float = 30) -> dict[int, tuple[int | None, float]]:
        """(exit code or None, seconds since ``sent``) per worker, waiting up to ``timeout``."""
        with self.lock:
            stopped: dict[int, tuple[int | None, float]] = {}
            for index, process in self.processes.items():
                try:
                    code: int | None = process.wait(
                        timeout=max(0.1, timeout - (time.monotonic() - sent))
                    )
                except subprocess.TimeoutExpired:
                    code = None
                stopped[index] = (code, time.monotonic() - sent)
            return stopped

    def kill_all(self) -> None:
        """Cleanup: nothing may outlive the test."""
        with self.lock:
            for process in self.processes.values():
                if process.poll() is None:
                    process.kill()
                    process.wait()

    def log_lines(self) -> Iterator[dict[str, Any]]:
        for path in sorted(self.logs.glob("worker*.log")):
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("{"):
                    try:
                        yield json.loads(line)
                    except ValueError:
                        continue  # a line cut by SIGKILL

    def outcomes(self) -> Counter[str]:
        return Counter(str(line.get("msg")) for line in self.log_lines())

    def logged_after_sigterm(self) -> Counter[str]:
        """What the workers logged after the last ``sigterm_all``: a batch's outcome lines
        there mean it was in flight at the signal (a stopping worker receives nothing new)."""
        return Counter(
            str(line.get("msg"))
            for line in self.log_lines()
            if datetime.fromisoformat(str(line["ts"])).timestamp() > self.sigterm_at
        )

    def tail(self, index: int, lines: int = 5) -> str:
        """The last log lines of worker ``index``'s newest generation (for failure messages)."""
        with self.lock:
            path = self.log_path(index, self.starts[index])
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def postgres_outage(proxy: TcpProxy, server: URL, seconds: float = 3.0) -> str:
    """Take PostgreSQL away once: restart it for real (CI) or cut the proxy; returns how.

    The real restart is ``pg_ctlcluster --skip-systemctl-redirect VERSION CLUSTER restart``
    (``CLUSTER`` from ``POINTS_CHAOS_POSTGRES_CLUSTER``, default ``main``), then waiting
    until the server behind the proxy accepts connections again.
    """
    if real_restart_enabled():
        version = sorted(os.listdir("/etc/postgresql"))[0]
        cluster = os.environ.get(CLUSTER_ENV, "main")
        host, port = server.host or "127.0.0.1", server.port or 5432
        began = time.monotonic()
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, "restart"],
            check=True,
            timeout=120,
        )
        deadline = time.monotonic() + 60
        while subprocess.run(
            ["pg_isready", "-h", host, "-p", str(port), "-q"], check=False
        ).returncode:
            assert time.monotonic() < deadline, "PostgreSQL did not come back"
            time.sleep(0.2)
        took = time.monotonic() - began
        return f"real restart (pg_ctlcluster {version} {cluster} restart, {took:.1f} s)"
    proxy.cut()
    time.sleep(seconds)
    proxy.restore()
    return f"proxy cut for {seconds:.0f} s"


def read_all(sqs: SQSClient, url: str, hold_seconds: int = 30) -> list[MessageTypeDef]:
    """Every visible message of a queue (held hidden for ``hold_seconds``, not deleted), each
    once: a message seen again (its hold lapsed on a slow machine) is the reader's repeat, not a
    second copy, so it is keyed on its SQS message id; two copies have two ids."""
    found: dict[str, MessageTypeDef] = {}
    while True:
        response = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
            VisibilityTimeout=hold_seconds,
        )
        if not response.get("Messages"):
            return list(found.values())
        for message in response["Messages"]:
            found.setdefault(message["MessageId"], message)


def reasons(messages: Iterable[MessageTypeDef]) -> list[tuple[str, str]]:
    """(body, worker-attached reason or "native") of DLQ messages."""
    out: list[tuple[str, str]] = []
    for message in messages:
        info = read_failure(decode_attributes(message.get("MessageAttributes", {})))
        out.append((message.get("Body", ""), info.error_type if info else "native"))
    return out


def queue_depth(sqs: SQSClient, url: str) -> int:
    """Visible + in flight + delayed."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return sum(int(v) for v in attributes.values())


def in_flight(sqs: SQSClient, url: str) -> int:
    """Messages received by a consumer and neither deleted nor released yet."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessagesNotVisible"])


class StallingProxy:
    """A TCP proxy that can *stall*: connections stay open but no byte moves (a hung
    server or a network partition, which a refused connection is not)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def stall(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def close(self) -> None:
        self._closed = True
        self._flowing.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
                upstream = socket.create_connection(self._target)
            except OSError:
                continue
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                self._flowing.wait()
                sink.sendall(chunk)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def inbox_blocked(url: str) -> Iterator[None]:
    """While inside, every ledger transaction that inserts an event waits for a lock: its
    batch is held in flight where the test can see it (``blocked_transactions``)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(f"LOCK TABLE {ledger_events.name} IN SHARE MODE"))
            yield
            connection.rollback()
    finally:
        engine.dispose()


def blocked_transactions(engine: sa.Engine) -> int:
    """Sessions of this test's database waiting for a lock, as PostgreSQL reports them."""
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    )
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def assert_applied_exactly_once(engine: sa.Engine, event_ids: Iterable[str]) -> None:
    """One inbox row and one ledger entry per distinct event, and nothing else in the ledger.

    Balances alone cannot show this: a story that authorizes then clears final earns the
    same whether its authorization was applied once, twice or never.
    """
    expected = Counter(set(event_ids))
    with engine.connect() as connection:
        inbox = Counter(connection.execute(sa.select(ledger_events.c.event_id)).scalars())
        entries = Counter(
            connection.execute(
                sa.select(ledger_entries.c.event_id).where(ledger_entries.c.kind == KIND_EVENT)
            ).scalars()
        )
    for name, found in (("inbox rows", inbox), ("ledger entries", entries)):
        assert found == expected, (
            f"{name}: missing {sorted(expected - found)[:10]}, "
            f"extra or doubled {sorted(found - expected)[:10]}"
        )
