"""``points db upgrade`` and ``points db current``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
import typer
from sqlalchemy.engine import Engine

from consumers.bootstrap import database, migrate_ledger
from consumers.db import classify_db_error, current_revision, db_reason, head_revision
from infra.settings import Config
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


@app.command("upgrade")
def upgrade_command(
    ctx: typer.Context,
    as_json: JsonFlag = False,
) -> None:
    """Migrate the database to the schema this code needs (idempotent); publish
    POINTS_RULES_FILE if the ledger has no published rules yet."""
    config: Config = ctx.obj
    with _database(config) as engine:
        before = current_revision(engine)
        migrate_ledger(engine, config.points.rules_file)
        after = current_revision(engine)
    if as_json:
        print_json({"from": before, "to": after})
    else:
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
