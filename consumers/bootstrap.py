"""One ``bootstrap_*`` per process kind: the only place processes are assembled.

Production and tests call the same functions (cosmicpython's ``bootstrap``): the worker
(``points worker``), the ledger jobs and queries (``points ledger …``, benchmarks, tests),
the outbox relay (``points outbox relay``) and the read-only failure journal of
``points dlq`` — each gets an engine made for its kind (``database``), the one retry policy
and the configuration resolved at start-up. Dependencies a caller must replace (a fake
handler, other rules, a retry policy without waits) are keyword overrides.

Start-up errors are classified like every other database error: a server that is away
(``DatabaseUnavailable``) is waited for, up to ``STARTUP_WAIT_SECONDS``; a database that
does not exist, refused credentials or an unknown host (``DatabaseMisconfigured``) and an
old schema (``DatabaseNotMigrated``) are ``ConfigurationError``s raised at once, whose one
line names the setting.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Self

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from consumers.db import (
    DatabaseUnavailable,
    make_engine,
    normalise_url,
    raise_classified,
    require_migrated,
    upgrade,
    upgrade_concurrently,
)
from consumers.handler import Handler, Result
from consumers.migrations.indexes import Action
from consumers.points.expiry import DEFAULT_TTL, Expired, expire
from consumers.points.ledger import PointsLedger
from consumers.points.published import (
    PublishedRules,
    RulesSource,
    adopt_rules_file,
    check_rules_file,
)
from consumers.points.rules import Rules
from consumers.points.store import Driver, LedgerStore, open_store
from consumers.points.verify import (
    DEFAULT_CHUNK_ENTRIES,
    DEFAULT_CHUNK_SIZE,
    WHOLE_LEDGER,
    Scope,
    VerifyReport,
    verify,
)
from consumers.retries import DEFAULT_POLICY, RetryPolicy
from infra.settings import Config
from schemas.events import Event

if TYPE_CHECKING:
    from consumers.runtime.settings import WorkerSettings
    from consumers.runtime.worker import Worker
    from producers.relay import Relay, RelaySettings

#: A process starting while its database server is briefly away waits this long for it.
STARTUP_WAIT_SECONDS: Final = 60.0
#: libpq settings of every process on PostgreSQL: notice a dead server or network instead
#: of hanging.
POSTGRES_CONNECT_ARGS: Final = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}
#: Long-running services also bound each statement and each idle transaction.
POSTGRES_SERVICE_OPTIONS: Final = (
    "-c statement_timeout=30000 -c idle_in_transaction_session_timeout=60000"
)

Kind = Literal["service", "job", "reader"]


def is_server(url: str) -> bool:
    """A database server (which may come back by waiting), not a local SQLite file."""
    return make_url(normalise_url(url)).get_backend_name() != "sqlite"


def database(url: str, kind: Kind) -> Engine:
    """The engine for a process kind: ``service`` (worker, relay: statement timeouts),
    ``job`` (CLI commands, benchmarks, tests) or ``reader`` (a short connect timeout).

    Without a pre-ping: a dead pooled connection fails its first statement as a transient
    error that the retry policy retries, which costs less than a round trip per transaction.
    """
    connect_args: dict[str, Any] = {}
    if make_url(normalise_url(url)).get_backend_name() == "postgresql":
        connect_args = dict(POSTGRES_CONNECT_ARGS)
        if kind == "service":
            connect_args["options"] = POSTGRES_SERVICE_OPTIONS
        if kind == "reader":
            connect_args["connect_timeout"] = 5
    return make_engine(url, pool_pre_ping=False, connect_args=connect_args)


def ready(
    engine: Engine,
    *,
    migrate: bool = False,
    rules_file: Path | None = None,
    retry: RetryPolicy = DEFAULT_POLICY,
    wait_seconds: float = STARTUP_WAIT_SECONDS,
) -> None:
    """Migrate (``--migrate``: and adopt ``rules_file`` into a ledger without published
    rules) and check the schema, waiting only for a server that is away."""

    def check() -> None:
        try:
            if migrate:
                migrate_ledger(engine, rules_file)
            require_migrated(engine)
        except sa.exc.SQLAlchemyError as exc:
            raise_classified(exc)
            raise

    deadline = wait_seconds if is_server(engine.url.render_as_string()) else 0.0
    started = time.monotonic()
    try:
        retry.waiting(deadline, initial_wait=0.5, max_wait=5.0).call(check)
    except DatabaseUnavailable as exc:
        waited = time.monotonic() - started
        raise DatabaseUnavailable(
            f"POINTS_DATABASE_URL: database unavailable (waited {waited:.0f} s): {exc}"
        ) from exc


def migrate_ledger(
    engine: Engine,
    rules_file: Path | None,
    *,
    concurrent_indexes: bool = False,
    progress: Callable[[str], None] = lambda _: None,
) -> list[tuple[str, Action]]:
    """``points db upgrade``: the schema to the head, then ``POINTS_RULES_FILE`` published
    if the ledger has no published rules yet (``consumers.points.published``).

    ``concurrent_indexes``: the migrations' indexes built beforehand without blocking
    writes (``consumers.db.upgrade_concurrently``); what was done to each is returned."""
    actions: list[tuple[str, Action]] = []
    if concurrent_indexes:
        actions = upgrade_concurrently(engine, progress)
    else:
        upgrade(engine)
    adopt_rules_file(open_store(engine, "core"), rules_file, datetime.now(UTC))
    return actions


@dataclass
class Ledger:
    """The points ledger as a process holds it: store, rules, the one retry policy.

    ``handle_batch``, ``expire`` and ``verify`` run under the retry policy (the worker
    runtime calls ``handler.handle_batch`` and retries itself); the store answers queries.
    """

    store: LedgerStore
    #: The rules of every transaction: those published in the database (``PublishedRules``),
    #: or a fixed rule set a test or benchmark chose.
    rules: Rules | RulesSource
    #: The engine the store runs on, for what shares its database (the failure journal).
    engine: Engine
    retry: RetryPolicy = DEFAULT_POLICY
    handler: PointsLedger = field(init=False)

    def __post_init__(self) -> None:
        self.handler = PointsLedger(self.store, self.rules)

    def handle_batch(self, events: Sequence[Event]) -> list[Result]:
        return self.retry.call(self.handler.handle_batch, events)

    def expire(self, *, now: datetime, ttl: timedelta = DEFAULT_TTL) -> list[Expired]:
        return expire(self.store, self.handler.rules_source, now=now, ttl=ttl, retry=self.retry)

    def current_rules(self) -> Rules:
        """The rules a batch would compute with now."""
        return self.retry.call(self._rules_now)

    def _rules_now(self) -> Rules:
        with self.store.unit_of_work() as uow:
            return self.handler.rules_source(uow)

    def verify(
        self,
        scope: Scope = WHOLE_LEDGER,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        chunk_entries: int = DEFAULT_CHUNK_ENTRIES,
    ) -> VerifyReport:
        return self.retry.call(
            verify, self.store, self.current_rules(), scope, chunk_size, chunk_entries
        )

    def close(self) -> None:
        self.store.close()
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def bootstrap_ledger(
    config: Config,
    *,
    rules: Rules | None = None,
    retry: RetryPolicy = DEFAULT_POLICY,
    driver: Driver = "auto",
    migrate: bool = False,
    kind: Kind = "job",
    check_rules: bool = True,
) -> Ledger:
    """The ledger of ``config.points.database_url``, refused unless migrated (or migrated
    first with ``migrate``); the rules published in it unless ``rules`` are given (then
    ``POINTS_RULES_FILE`` must agree with them: ``check_rules_file``, skipped by
    ``check_rules=False`` for ``points rules``, which publishes what the file lacks)."""
    rules_file = config.points.rules_file
    engine = database(config.points.database_url, kind)
    try:
        ready(engine, migrate=migrate, rules_file=rules_file, retry=retry, wait_seconds=0.0)
        store = open_store(engine, driver)
        if rules is None and check_rules:
            check_rules_file(store, rules_file)
    except BaseException:
        engine.dispose()
        raise
    return Ledger(store, PublishedRules() if rules is None else rules, engine, retry)


@asynccontextmanager
async def bootstrap_worker(
    config: Config,
    settings: WorkerSettings,
    *,
    drain: bool = False,
    migrate: bool = False,
    handler: Handler | None = None,
    emit_metrics: bool = True,
    startup_wait_seconds: float = STARTUP_WAIT_SECONDS,
) -> AsyncIterator[Worker]:
    """A worker on ``settings.queue``: a service engine, the start-up wait, the handler
    registered for the queue (``consumers.registry``) unless given, the failure journal,
    the SQS transport (``GetQueueUrl`` on an aiobotocore client, the hot path on
    ``consumers.runtime.sqs``) and the one retry policy (``settings.retry_policy()``)."""
    from aiobotocore.session import get_session

    from consumers.journal import record_failures
    from consumers.registry import handler_factory
    from consumers.runtime.observability import MetricsSink
    from consumers.runtime.processing import BatchProcessor
    from consumers.runtime.sqs import open_sqs_api
    from consumers.runtime.transport import SqsTransport
    from consumers.runtime.worker import Worker
    from infra.aws import client_kwargs
    from infra.resolve import topology

    factory = handler_factory(settings.queue)  # an unknown queue fails before connecting
    retry = settings.retry_policy()
    engine = database(config.points.database_url, "service")
    try:
        ready(
            engine,
            migrate=migrate,
            rules_file=config.points.rules_file,
            retry=retry,
            wait_seconds=startup_wait_seconds,
        )
        chosen = handler or factory(config, engine)
        names = topology(config)
        spec = names.queue(settings.queue)
        kwargs = client_kwargs(config.aws)
        kwargs["config"] = kwargs["config"].merge(
            type(kwargs["config"])(max_pool_connections=settings.concurrency * 2 + 2)
        )
        session = get_session()
        async with (
            session.create_client("sqs", **kwargs) as sqs,
            open_sqs_api(session, sqs, connections=settings.concurrency * 2 + 2) as api,
        ):
            url = (await sqs.get_queue_url(QueueName=names.physical(spec.name)))["QueueUrl"]
            dlq = (await sqs.get_queue_url(QueueName=names.physical(spec.dlq_name)))["QueueUrl"]
            transport = SqsTransport(api, spec.name, url, dlq)
            journal = partial(record_failures, engine)
            processor = BatchProcessor(transport, chosen, settings, journal=journal, retry=retry)
            metrics = MetricsSink(enabled=emit_metrics)
            yield Worker(transport, processor, settings, drain=drain, metrics=metrics)
    finally:
        engine.dispose()


def bootstrap_journal(database_url: str | None) -> Engine | None:
    """The failure journal for ``points dlq``, read-only: ``None`` when there is none to read.

    The operator's machine may have no consumer database, or an unmigrated one: then the
    reasons come from attributes only. Opening never creates a SQLite file as a side effect.
    """
    if not database_url:
        return None
    url = make_url(normalise_url(database_url))
    if url.get_backend_name() == "sqlite" and (
        not url.database or url.database == ":memory:" or not Path(url.database).exists()
    ):
        return None
    engine = database(database_url, "reader")
    try:
        if sa.inspect(engine).has_table("failures"):
            return engine
    except sa.exc.SQLAlchemyError:
        pass
    engine.dispose()
    return None


def bootstrap_relay(config: Config, settings: RelaySettings | None = None) -> Relay:
    """The outbox relay: the payment service's database (``POINTS_OUTBOX_DATABASE_URL``,
    else the ledger's) on an engine of its own, and the SNS publisher of the topology."""
    from infra.aws import sns_client
    from infra.resolve import topic_arn
    from producers.publisher import SnsPublisher
    from producers.relay import Relay

    url = config.points.outbox_database_url or config.points.database_url
    engine = database(url, "service")
    sns = sns_client(config.aws)
    return Relay(engine, SnsPublisher(sns, topic_arn(config, sns)), settings)
