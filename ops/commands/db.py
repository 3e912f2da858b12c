"""``points db upgrade`` and ``points db current``."""

from __future__ import annotations

from typing import Annotated

import typer

from consumers.db import current_revision, head_revision, make_engine, upgrade
from infra.settings import Config
from ops.output import console, print_json

app = typer.Typer(help="The ledger database schema (Alembic migrations).")


@app.command("upgrade")
def upgrade_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Migrate the database to the schema this code needs (idempotent)."""
    config: Config = ctx.obj
    engine = make_engine(config.points.database_url)
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    engine.dispose()
    if as_json:
        print_json({"from": before, "to": after})
    else:
        console.print(f"database at {after} (was {before or 'empty'})", highlight=False)


@app.command("current")
def current_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show the schema revision of the database and the one this code needs."""
    config: Config = ctx.obj
    engine = make_engine(config.points.database_url)
    current, head = current_revision(engine), head_revision()
    engine.dispose()
    if as_json:
        print_json({"current": current, "head": head})
    else:
        console.print(f"database at {current or 'nothing'}; code needs {head}", highlight=False)
