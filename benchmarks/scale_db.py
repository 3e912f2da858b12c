"""The scale benchmark's databases: created fresh, measured, dropped (unless kept).

Each run of ``benchmarks.scale`` creates its own PostgreSQL databases on the server of
``POINTS_BENCH_POSTGRES_URL`` (``points_scale_<UTC timestamp>_<part>``), so it never reads
or writes anyone else's; they are dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import psutil
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from benchmarks.backbones import cpu_seconds

DEFAULT_SERVER: Final = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
ROOT: Final = Path(__file__).resolve().parent.parent
#: Every table of the ledger's own (the inbox, entries, projections, rules); not the
#: worker's failure journal, the outbox or Alembic's bookkeeping.
LEDGER_TABLE_PREFIXES: Final = ("ledger_", "points_", "rule")


@contextmanager
def fresh_database(server_url: str, name: str, *, keep: bool = False) -> Iterator[str]:
    """A new, empty database ``name`` on the server; dropped afterwards unless ``keep``."""
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        if not keep:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def table_sizes(engine: Engine) -> dict[str, int]:
    """``pg_total_relation_size`` (heap, TOAST and every index) of each ledger table."""
    query = sa.text(
        "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema() ORDER BY c.relname"
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return {name: int(size) for name, size in rows if name.startswith(LEDGER_TABLE_PREFIXES)}


def analyze(engine: Engine) -> None:
    """``ANALYZE``: statistics as autovacuum keeps them on a ledger in service (after a
    bulk load they lag, and the planner would plan the reads for a smaller table)."""
    with engine.connect() as connection:
        connection.execute(sa.text("ANALYZE"))
        connection.commit()


class BackendCpu:
    """CPU seconds (user + system) the server's backends of one database have used since
    the first sample (``benchmarks.backbones.cpu_seconds``: the server runs on this machine), kept
    apart for the ledger's own connections and for autovacuum. Asked on a connection of
    its own, so that every backend of the ledger's pool is counted.

    Counted per backend between samples: a backend that was there before adds what it
    used since, one that appeared adds all it used (it started after the last sample),
    one that went away adds nothing more, and one that came and went between two samples
    is not seen at all (the load samples every few seconds, autovacuum's workers on a big
    table run for minutes). (Summing whatever backends happen to be there at each sample,
    as this did before, counted an autovacuum worker's whole life in the window it
    appeared in and took it away again in the window it vanished from.)
    """

    QUERY: Final = sa.text(
        "SELECT pid, backend_type FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid()"
    )
    #: ``backend_type`` of autovacuum's workers; every other backend of the database is
    #: the ledger's (its pool's client backends).
    AUTOVACUUM: Final = "autovacuum worker"

    def __init__(self, engine: Engine) -> None:
        self.engine = sa.create_engine(engine.url, poolclass=sa.pool.StaticPool)
        self._seen: dict[int, float] | None = None
        self.ledger_seconds = 0.0
        self.autovacuum_seconds = 0.0

    def seconds(self) -> float | None:
        """All backends' CPU so far; None when no backend's CPU can be read (a server on
        another machine). ``autovacuum_seconds`` is the autovacuum part of it."""
        with self.engine.connect() as connection:
            backends = [(row.pid, row.backend_type) for row in connection.execute(self.QUERY)]
            connection.rollback()
        now: dict[int, float] = {}
        for pid, _ in backends:
            with contextlib.suppress(psutil.NoSuchProcess):  # went away: counted no more
                now[pid] = cpu_seconds(pid)
        if backends and not now:
            return None
        if self._seen is not None:
            for pid, kind in backends:
                if pid not in now:
                    continue
                before = self._seen.get(pid, 0.0)
                used = now[pid] - before if now[pid] >= before else now[pid]  # a reused pid
                if kind == self.AUTOVACUUM:
                    self.autovacuum_seconds += used
                else:
                    self.ledger_seconds += used
        self._seen = now
        return self.ledger_seconds + self.autovacuum_seconds

    def close(self) -> None:
        self.engine.dispose()


class ServerIo:
    """Cumulative counters of the server's buffer cache and write-ahead log, to tell why a
    window's statements cost more than an earlier one's: ``blocks_read`` (the database's
    shared-buffer misses: a page copied in from the OS, often after writing a dirty one
    out), ``blocks_hit``, and the cluster's WAL — ``wal_fpi``, the full-page images
    written because a page is modified for the first time since the last checkpoint (a
    random-key index bigger than the cache is touched on a new page by almost every
    insert), ``wal_bytes`` — and its ``checkpoints``. The WAL and checkpoint counters are
    the whole server's: nothing else should write to it during the run. None on a server
    without ``pg_stat_wal`` (before PostgreSQL 14). Each backend adds its counts to these
    views at most a second after its transaction (ten when it idles): a window of
    minutes is off by a second's worth. ``wal_bytes`` is read from the WAL's position,
    exactly."""

    QUERY: Final = sa.text(
        "SELECT d.blks_read, d.blks_hit, w.wal_fpi, "
        "pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0'), "
        "b.checkpoints_timed + b.checkpoints_req "
        "FROM pg_stat_database d, pg_stat_wal w, pg_stat_bgwriter b "
        "WHERE d.datname = current_database()"
    )
    NAMES: Final = ("blocks_read", "blocks_hit", "wal_fpi", "wal_bytes", "checkpoints")

    def __init__(self, engine: Engine) -> None:
        self.engine = sa.create_engine(engine.url, poolclass=sa.pool.StaticPool)

    def counters(self) -> dict[str, int] | None:
        try:
            with self.engine.connect() as connection:
                row = connection.execute(self.QUERY).one()
                connection.rollback()
        except sa.exc.DBAPIError:
            return None
        return {name: int(value) for name, value in zip(self.NAMES, row, strict=True)}

    def close(self) -> None:
        self.engine.dispose()


def io_per_event(
    before: dict[str, int] | None, after: dict[str, int] | None, events: int
) -> dict[str, float] | None:
    """A window's server I/O per applied event (checkpoints: the count in the window)."""
    if before is None or after is None:
        return None
    per = 1 / max(1, events)
    figures = {
        name: round((after[name] - before[name]) * per, 2)
        for name in ServerIo.NAMES
        if name != "checkpoints"
    }
    return figures | {"checkpoints": after["checkpoints"] - before["checkpoints"]}


def server_context(engine: Engine) -> dict[str, Any]:
    with engine.connect() as connection:

        def show(name: str) -> str:
            return str(connection.execute(sa.text(f"SHOW {name}")).scalar_one())

        return {
            "version": show("server_version"),
            "synchronous_commit": show("synchronous_commit"),
            "shared_buffers": show("shared_buffers"),
            "autovacuum": show("autovacuum"),
            "max_wal_size": show("max_wal_size"),
        }


def git_commit() -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    return {"commit": git("rev-parse", "HEAD") or None, "dirty": bool(git("status", "--porcelain"))}


ACTIVITY: Final = sa.text(
    "SELECT state, wait_event_type, wait_event, query FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)
#: The table a waiting ledger statement writes (the pipelined statements are INSERTs).
WRITES: Final = re.compile(r'INSERT INTO "?(\w+)')


@dataclass
class LockSampler:
    """Samples ``pg_stat_activity`` of one database every ``interval`` seconds: how many of
    its backends run a statement, and what those waiting for a lock wait on, by the table
    their statement writes (``Lock:transactionid in ledger_balances``: a balance row held
    by another transaction; ``Lock:extend``: a table or index another backend extends)."""

    engine: Engine
    interval: float = 0.25
    samples: int = 0
    busy_samples: int = 0
    lock_wait_samples: int = 0
    waiting_backends: int = 0
    waits: Counter[str] = field(default_factory=Counter)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> LockSampler:
        self._thread = threading.Thread(target=self._run, name="lock-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        with self.engine.connect() as connection:
            while not self._stop.wait(self.interval):
                rows = connection.execute(ACTIVITY).all()
                connection.rollback()
                waiting = [
                    f"Lock:{event} in {_written(query)}"
                    for _, kind, event, query in rows
                    if kind == "Lock"
                ]
                self.samples += 1
                self.busy_samples += int(any(row[0] == "active" for row in rows))
                self.lock_wait_samples += int(bool(waiting))
                self.waiting_backends += len(waiting)
                self.waits.update(waiting)

    def as_dict(self) -> dict[str, Any]:
        busy = max(1, self.busy_samples)
        return {
            "samples": self.samples,
            "share_of_busy_samples_with_a_lock_wait": round(self.lock_wait_samples / busy, 3),
            "mean_backends_waiting_for_a_lock": round(self.waiting_backends / busy, 3),
            "lock_waits_by_kind": dict(self.waits.most_common()),
        }


def _written(query: str | None) -> str:
    match = WRITES.search(query or "")
    return match.group(1) if match else "another statement"


def elapsed(started: float) -> float:
    return round(time.perf_counter() - started, 1)
