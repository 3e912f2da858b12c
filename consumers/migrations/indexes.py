"""Indexes a migration creates that an operator may build beforehand without blocking writes.

``points db upgrade`` runs every pending migration in one transaction, so a
``CREATE INDEX`` in it holds its table's SHARE lock until the commit: payment writes wait
for as long as the build takes (1.2 s at 500 k events, minutes at hundreds of millions).
PostgreSQL can build an index without that lock (``CREATE INDEX CONCURRENTLY``), but only
outside a transaction block. So a migration that creates such indexes declares them
(``OnlineIndexes``, module attribute ``ONLINE``) and creates each through
``create_in_migration``: an index that already exists and is valid is kept. ``points db
upgrade --concurrent-indexes`` (``consumers.db.upgrade_concurrently``) migrates to just
before such a migration, builds its indexes concurrently (``prebuild``), drops concurrently
the indexes they replace, and then runs the rest of the upgrade, in which that migration
only records its revision.

An interrupted concurrent build (a cancel, a timeout, a lost connection) leaves an INVALID
index behind: it is never used for reads but still costs every write, and its content is
not to be trusted, so both paths drop it and build it again. An index of the same name that
is valid but defined otherwise (made by hand) is refused, as the plain ``CREATE INDEX``
always refused it. SQLite builds in the upgrade's transaction as before: it has no
concurrent build, and one writer at a time anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Engine

#: What the concurrent path did with an index: built it, rebuilt an INVALID leftover, kept
#: a valid one built before, or dropped one a new index replaces.
Action = Literal["built", "rebuilt", "kept", "dropped"]


@dataclass(frozen=True, slots=True)
class OnlineIndex:
    """A (non-unique, b-tree) index a migration creates, optionally partial."""

    name: str
    table: str
    columns: tuple[str, ...]
    where: str | None = None

    def ddl(self, *, concurrently: bool) -> sa.Index:
        """The index as SQLAlchemy DDL (``CreateIndex``/``DropIndex`` compile it)."""
        table = sa.Table(self.table, sa.MetaData(), *(sa.Column(c) for c in self.columns))
        where = None if self.where is None else sa.text(self.where)
        return sa.Index(
            self.name,
            *(table.c[c] for c in self.columns),
            postgresql_where=where,
            postgresql_concurrently=concurrently,
        )


@dataclass(frozen=True, slots=True)
class OnlineIndexes:
    """A migration's indexes that may be built beforehand, and the indexes they make
    redundant (the migration drops them; the concurrent path drops them concurrently)."""

    build: tuple[OnlineIndex, ...]
    replaces: tuple[OnlineIndex, ...] = ()


@dataclass(frozen=True, slots=True)
class Found:
    """An index of the wanted name as PostgreSQL's catalog has it."""

    valid: bool
    table: str
    columns: tuple[str, ...]
    unique: bool
    method: str
    predicate: str | None


class IndexConflict(RuntimeError):
    """An index of this name exists, valid, with another definition: not ours to drop."""


_FOUND = sa.text(
    """
    SELECT i.indisvalid AS valid, t.relname AS table_name, i.indisunique AS is_unique,
           am.amname AS method, pg_get_expr(i.indpred, i.indrelid) AS predicate,
           ARRAY(
               SELECT a.attname
               FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
               ORDER BY k.n
           ) AS columns
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_am am ON am.oid = c.relam
    WHERE c.relname = :name AND c.relnamespace = current_schema()::regnamespace
    """
)


def found(connection: sa.Connection, name: str) -> Found | None:
    """The index ``name`` of the current schema (PostgreSQL), or ``None``."""
    row = connection.execute(_FOUND, {"name": name}).one_or_none()
    if row is None:
        return None
    return Found(
        row.valid,
        row.table_name,
        tuple(row.columns),
        row.is_unique,
        row.method,
        row.predicate,
    )


def _bare(predicate: str | None) -> str | None:
    """A predicate without its parentheses (PostgreSQL writes ``(x IS NULL)``)."""
    return None if predicate is None else predicate.replace("(", "").replace(")", "").strip()


def matches(existing: Found, index: OnlineIndex) -> bool:
    """The existing index is the one ``index`` declares."""
    return (
        existing.table == index.table
        and existing.columns == index.columns
        and not existing.unique
        and existing.method == "btree"
        and _bare(existing.predicate) == _bare(index.where)
    )


def _refuse(index: OnlineIndex, existing: Found) -> IndexConflict:
    return IndexConflict(
        f"index {index.name} exists with another definition ({existing}); drop or rename it, "
        "then upgrade again"
    )


def create_in_migration(index: OnlineIndex) -> None:
    """Create ``index`` in a migration's transaction, unless it was built beforehand.

    PostgreSQL: a valid index of this definition is kept (``--concurrent-indexes`` built
    it); an INVALID one is dropped and built again; a valid one defined otherwise is
    refused. SQLite: created, as always.
    """
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        existing = found(bind, index.name)
        if existing is not None and existing.valid:
            if matches(existing, index):
                return
            raise _refuse(index, existing)
        if existing is not None:
            op.drop_index(index.name, table_name=index.table)
    where = None if index.where is None else sa.text(index.where)
    op.create_index(
        index.name,
        index.table,
        list(index.columns),
        unique=False,
        postgresql_where=where,
        sqlite_where=where,
    )


def prebuild(engine: Engine, online: OnlineIndexes) -> list[tuple[str, Action]]:
    """Build ``online.build`` concurrently, then drop ``online.replaces`` concurrently
    (PostgreSQL; each statement in its own transaction, writes go on meanwhile)."""
    actions: list[tuple[str, Action]] = []
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for index in online.build:
            actions.append((index.name, _build_concurrently(connection, index)))
        for old in online.replaces:
            if found(connection, old.name) is not None:
                drop = sa.schema.DropIndex(old.ddl(concurrently=True), if_exists=True)
                connection.execute(drop)
                actions.append((old.name, "dropped"))
    return actions


def _build_concurrently(connection: sa.Connection, index: OnlineIndex) -> Action:
    existing = found(connection, index.name)
    if existing is not None and existing.valid:
        if matches(existing, index):
            return "kept"
        raise _refuse(index, existing)
    if existing is not None:
        connection.execute(sa.schema.DropIndex(index.ddl(concurrently=True)))
    connection.execute(sa.schema.CreateIndex(index.ddl(concurrently=True)))
    return "built" if existing is None else "rebuilt"
