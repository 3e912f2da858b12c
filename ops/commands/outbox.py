"""``points outbox …``: run the relay and look at the outbox of a payment service's database.

The database is ``POINTS_OUTBOX_DATABASE_URL`` (default: the ``--database-url``). The relay
is long-running by default (an ECS service next to the payment service); ``--once`` makes
one pass and exits 1 if anything stayed unpublished, for cron-style runs and tests.
"""

from __future__ import annotations

import signal
import threading
from datetime import timedelta
from types import FrameType
from typing import Annotated

import typer
from sqlalchemy.engine import Engine

from consumers.bootstrap import bootstrap_relay, database
from infra.settings import Config
from ops.output import JsonFlag, console, fail, print_json
from producers.outbox import create_outbox_table, has_outbox_table, outbox_ddl, outbox_status
from producers.relay import RelayReport, RelaySettings

app = typer.Typer(help="The transactional outbox: relay events to SNS, inspect the backlog.")


@app.command("relay")
def relay(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    batch_size: Annotated[
        int, typer.Option(min=1, max=1000, help="Rows per transaction (10 per PublishBatch).")
    ] = 100,
    poll_seconds: Annotated[float, typer.Option(min=0.01, help="Idle wait between passes.")] = 1.0,
    retention_hours: Annotated[
        float, typer.Option(min=0, help="Sent rows older than this are pruned.")
    ] = 168.0,
    as_json: JsonFlag = False,
) -> None:
    """Publish pending outbox rows in order and mark them sent (until SIGTERM/Ctrl-C)."""
    config: Config = ctx.obj
    _outbox_engine(config, require_table=True).dispose()
    settings = RelaySettings(
        batch_size=batch_size,
        poll_interval=poll_seconds,
        retention=timedelta(hours=retention_hours),
    )
    worker = bootstrap_relay(config, settings)
    report = worker.run_once() if once else worker.run(_stop_on_signals())
    _print_report(report, as_json)
    if once and not report.ok:
        raise typer.Exit(1)


@app.command("status")
def status(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Pending, failing and sent rows, and the age of the oldest pending row."""
    engine = _outbox_engine(ctx.obj, require_table=True)
    with engine.connect() as conn:
        result = outbox_status(conn)
    if as_json:
        print_json(result)
        return
    for key, value in result.items():
        console.print(f"{key}: {value}", highlight=False)


@app.command("init")
def init(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Create the outbox table if missing (demo, tests; payment services use migrations)."""
    engine = _outbox_engine(ctx.obj, require_table=False)
    existed = has_outbox_table(engine)
    create_outbox_table(engine)
    if as_json:
        print_json({"created": not existed})
    else:
        console.print("outbox table " + ("already present" if existed else "created"))


@app.command("ddl")
def ddl(
    dialect: Annotated[str, typer.Option(help="postgresql or sqlite.")] = "postgresql",
    as_json: JsonFlag = False,
) -> None:
    """Print the outbox DDL for a payment service's own migration.

    ``--json``: ``{"dialect", "statements": [SQL, …]}`` (each statement without its ``;``).
    """
    if dialect not in {"postgresql", "sqlite"}:
        fail(f"unknown dialect {dialect!r}: use postgresql or sqlite")
    text = outbox_ddl(dialect)
    if as_json:
        statements = [s.strip() for s in text.split(";\n") if s.strip()]
        print_json({"dialect": dialect, "statements": statements})
        return
    typer.echo(text, nl=False)


def _outbox_engine(config: Config, *, require_table: bool) -> Engine:
    url = config.points.outbox_database_url or config.points.database_url
    engine = database(url, "job")
    if require_table and not has_outbox_table(engine):
        fail("no outbox table in the outbox database; run `points outbox init` first")
    return engine


def _stop_on_signals() -> threading.Event:
    """SIGTERM (ECS stopping the task) and Ctrl-C end the loop after the current batch."""
    stop = threading.Event()

    def handle(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


def _print_report(report: RelayReport, as_json: bool) -> None:
    if as_json:
        print_json(report.as_json())
        return
    console.print(
        f"published {report.published}, failed {report.failed}, pruned {report.pruned} "
        f"in {report.passes} pass(es)",
        highlight=False,
    )
    for error in report.errors:
        console.print(f"[yellow]error:[/yellow] {error}", highlight=False)
