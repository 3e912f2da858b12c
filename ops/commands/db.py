"""``points db upgrade [--concurrent-indexes]`` and ``points db current``.

``--concurrent-indexes`` is for a big, live ledger on PostgreSQL: the indexes of pending
migrations are built beforehand without blocking writes (``consumers.migrations.indexes``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from sqlalchemy.engine import Engine

from consumers.bootstrap import database, migrate_ledger
from consumers.db import classify_db_error, current_revision, db_reason, head_revision
from consumers.migrations.indexes import IndexConflict
from infra.settings import Config
from ops.commands.common import say
from ops.output import JsonFlag, console, fail, print_json

app = typer.Typer(help="The ledger database schema (Alembic migrations).")


@contextmanager
def _database(config: Config) -> Iterator[Engine]:
    """A job's engine on the ledger database; database errors as one line, disposed after."""
    engine = database(config.points.database_url, "job")
    try:
        yield engine
    except sa.exc.SQLAlchemyError as exc:
        error = classify_db_error(exc)
        fail(str(error) if error is not None else db_reason(exc))
    finally:
        engine.dispose()


ConcurrentIndexes = Annotated[
    bool,
    typer.Option(
        "--concurrent-indexes",
        help="PostgreSQL: build the indexes of pending migrations first with CREATE INDEX "
        "CONCURRENTLY (outside the upgrade's transaction: payment writes go on), then "
        "upgrade. Rerun after an interruption: it rebuilds an INVALID leftover.",
    ),
]


@app.command("upgrade")
def upgrade_command(
    ctx: typer.Context,
    concurrent_indexes: ConcurrentIndexes = False,
    as_json: JsonFlag = False,
) -> None:
    """Migrate the database to the schema this code needs (idempotent); publish
    POINTS_RULES_FILE if the ledger has no published rules yet."""
    config: Config = ctx.obj
    with _database(config) as engine:
        before = current_revision(engine)
        if concurrent_indexes and engine.dialect.name != "postgresql":
            say("--concurrent-indexes: SQLite has no concurrent build; plain upgrade")
        try:
            actions = migrate_ledger(
                engine,
                config.points.rules_file,
                concurrent_indexes=concurrent_indexes,
                progress=say,
            )
        except IndexConflict as exc:
            fail(str(exc))
        except sa.exc.SQLAlchemyError as exc:
            if not concurrent_indexes:
                raise
            error = classify_db_error(exc)
            reason = str(error) if error is not None else db_reason(exc)
            fail(f"{reason}; an interrupted build leaves an INVALID index: run this again")
        after = current_revision(engine)
    if as_json:
        document: dict[str, Any] = {"from": before, "to": after}
        if concurrent_indexes:
            document["indexes"] = [{"index": name, "action": done} for name, done in actions]
        print_json(document)
        return
    for name, done in actions:
        console.print(f"{name}: {done}", highlight=False)
    console.print(f"database at {after} (was {before or 'empty'})", highlight=False)


@app.command("current")
def current_command(
    ctx: typer.Context,
    as_json: JsonFlag = False,
) -> None:
    """Show the schema revision of the database and the one this code needs."""
    config: Config = ctx.obj
    with _database(config) as engine:
        current, head = current_revision(engine), head_revision()
    if as_json:
        print_json({"current": current, "head": head})
    else:
        console.print(f"database at {current or 'nothing'}; code needs {head}", highlight=False)
