"""The consumers' database: engines, the shared metadata, and migrations.

SQLite is the embedded default, PostgreSQL production. Every table of the consumer side
(ledger, failure journal, notifications) hangs off ``metadata`` so that one Alembic chain
(``consumers/migrations``) owns the schema. Workers refuse to start on a schema that is not
at the head revision: they never create tables themselves.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine, make_url

from consumers.migrations.indexes import Action, OnlineIndexes, prebuild
from schemas.errors import ConfigurationError, PermanentError, PointsError, TransientError

MIGRATIONS_DIR: Final = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS: Final = 30_000

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class DatabaseNotMigrated(ConfigurationError):
    """The schema is missing or behind the code: run ``points db upgrade`` first."""

    code = "database_not_migrated"


class DatabaseMisconfigured(ConfigurationError):
    """The database named by ``POINTS_DATABASE_URL`` refuses us for good: it does not exist,
    the credentials are wrong, or its host name does not resolve."""

    code = "database_misconfigured"


class DatabaseUnavailable(TransientError):
    """The database could not be reached or is overloaded; the work will be retried."""

    code = "database_unavailable"


class RaceLost(TransientError):
    """A concurrent commit invalidated this transaction's plan; roll back and start again."""

    code = "race_lost"


class DataRefused(PermanentError):
    """The database refused the data of this transaction (e.g. a NUL character in text)."""

    code = "data_refused"


MAX_REASON: Final = 300
#: SQLSTATEs that heal by retrying: serialization failure, deadlock, lock not available,
#: admin/crash shutdown, cannot connect now, too many connections, connection exceptions.
TRANSIENT_SQLSTATES: Final = frozenset(
    {"40001", "40P01", "55P03", "57P01", "57P02", "57P03", "53300"}
)
#: SQLSTATEs that no wait can heal: missing database, refused authentication.
MISCONFIGURED_SQLSTATES: Final = frozenset({"3D000", "28000", "28P01"})
#: libpq reports a refused connection without its SQLSTATE, only the server's message:
#: these are the messages of the states above, and of a host name that does not resolve.
_MISCONFIGURED_MESSAGES: Final = re.compile(
    r'database "[^"]*" does not exist|role "[^"]*" does not exist|'
    r"password authentication failed|no pg_hba\.conf entry|"
    r"failed to resolve host|could not translate host name|unable to open database file"
)


def db_reason(exc: BaseException) -> str:
    """The driver's own first line (SQLAlchemy's text would echo the statement's parameters)."""
    orig = exc.orig if isinstance(exc, sa.exc.StatementError) and exc.orig is not None else exc
    text = str(orig).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:MAX_REASON]


def classify_db_error(
    exc: BaseException, setting: str = "POINTS_DATABASE_URL"
) -> PointsError | None:
    """The one place a database error is judged: transient, permanent or configuration.

    ``None`` for anything that is not a database error we understand (a bug: it propagates
    as itself). ``setting`` names the configuration a ``DatabaseMisconfigured`` points at.
    """
    if isinstance(exc, PointsError):
        return exc
    if not isinstance(exc, sa.exc.SQLAlchemyError):
        return None
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
    reason = db_reason(exc)
    if sqlstate in MISCONFIGURED_SQLSTATES or (
        isinstance(exc, sa.exc.OperationalError) and _MISCONFIGURED_MESSAGES.search(reason)
    ):
        return DatabaseMisconfigured(f"{setting}: {_without_prefix(reason)}")
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return DatabaseUnavailable(reason)
    if sqlstate in TRANSIENT_SQLSTATES or isinstance(
        exc, (sa.exc.OperationalError, sa.exc.TimeoutError, sa.exc.InterfaceError)
    ):
        return DatabaseUnavailable(reason)
    if isinstance(exc, (sa.exc.DataError, sa.exc.IntegrityError)):
        return DataRefused(reason)
    return None


def _without_prefix(reason: str) -> str:
    """libpq's 'connection failed: connection to server at …, port … failed: FATAL:  x' → x."""
    return re.sub(r"^.*FATAL:\s+", "", reason)


def raise_classified(exc: BaseException, setting: str = "POINTS_DATABASE_URL") -> None:
    """Raise ``exc`` classified (chained to it) when it is a database error we understand;
    return otherwise, so the caller's bare ``raise`` propagates the original."""
    classified = classify_db_error(exc, setting)
    if classified is not None and classified is not exc:
        raise classified from exc


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3, the driver we ship."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    return sa.create_engine(url, **kwargs)


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    engine = sa.create_engine(url, **kwargs)

    @sa.event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin_immediate(connection: sa.Connection) -> None:
        # Take the write lock up front: two writers that both read first and then try to
        # upgrade their locks would otherwise fail with "database is locked".
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def alembic_config(connection: sa.Connection | None = None) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def upgrade_concurrently(
    engine: Engine, progress: Callable[[str], None] = lambda _: None
) -> list[tuple[str, Action]]:
    """``points db upgrade --concurrent-indexes``: the upgrade, with the indexes of every
    pending migration that declares them (``ONLINE``) built beforehand with ``CREATE INDEX
    CONCURRENTLY`` so that payment writes never wait for a build (PostgreSQL).

    The pending migrations up to each such one run in one transaction as usual; then its
    indexes are built concurrently (``consumers.migrations.indexes.prebuild``); the rest
    runs in one last transaction, where that migration keeps the indexes it finds. What
    was done to each index is returned. SQLite: the plain upgrade (nothing to return).
    """
    if engine.dialect.name != "postgresql":
        upgrade(engine)
        return []
    actions: list[tuple[str, Action]] = []
    for revision, online in _pending_online_indexes(engine):
        upgrade(engine, revision)
        progress(
            f"building {', '.join(i.name for i in online.build)} concurrently "
            "(writes go on; this takes as long as the tables are big)"
        )
        actions += prebuild(engine, online)
    upgrade(engine)
    return actions


def _pending_online_indexes(engine: Engine) -> list[tuple[str, OnlineIndexes]]:
    """(the revision before it, its ``ONLINE``) of each pending migration declaring one,
    oldest first."""
    scripts = ScriptDirectory.from_config(alembic_config())
    current = current_revision(engine) or "base"
    pending = reversed(list(scripts.iterate_revisions("heads", current)))
    found: list[tuple[str, OnlineIndexes]] = []
    for script in pending:
        online = getattr(script.module, "ONLINE", None)
        if isinstance(online, OnlineIndexes):
            before = script.down_revision
            assert isinstance(before, str), "a migration with ONLINE indexes has one parent"
            found.append((before, online))
    return found


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def require_migrated(engine: Engine) -> None:
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise DatabaseNotMigrated(
            f"database schema is at {current or 'nothing'}, code needs {head}; "
            "run `points db upgrade` first"
        )
