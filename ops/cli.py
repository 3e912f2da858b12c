"""The ``points`` command: a thin entrypoint over the packages (cosmicpython style).

Settings are resolved once here, from flags then environment then defaults, and handed to
commands through the Typer context. Errors print one line and exit non-zero; set
``POINTS_DEBUG=1`` for a traceback.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from infra.settings import Config
from ops.output import CliError, err_console

app = typer.Typer(
    name="points",
    help="Card payment loyalty points: publish, consume, inspect and redrive payment events.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    endpoint_url: Annotated[
        str | None, typer.Option(help="AWS endpoint (default: $AWS_ENDPOINT_URL, else AWS).")
    ] = None,
    region: Annotated[str | None, typer.Option(help="AWS region (default: $AWS_REGION).")] = None,
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL (default: $POINTS_DATABASE_URL).")
    ] = None,
    prefix: Annotated[
        str | None, typer.Option(help="Resource name prefix (default: $POINTS_RESOURCE_PREFIX).")
    ] = None,
) -> None:
    ctx.obj = Config.resolve(
        endpoint_url=endpoint_url, region=region, database_url=database_url, resource_prefix=prefix
    )


def _register() -> None:
    # Imported here, not at module top, so that `import ops.cli` stays cheap and side-effect free.
    from ops.commands import db, demo, infra, ledger, outbox, publish, schemas, worker

    app.add_typer(schemas.app, name="schemas")
    app.add_typer(db.app, name="db")
    app.add_typer(infra.app, name="infra")
    app.add_typer(outbox.app, name="outbox")
    app.add_typer(ledger.app, name="ledger")
    app.command("local")(infra.local)
    app.command("publish")(publish.publish)
    app.command("demo")(demo.demo)
    app.command("worker")(worker.worker)
    from ops.commands import dlq, replay

    app.add_typer(dlq.app, name="dlq")
    app.command("replay")(replay.replay)


def main() -> None:
    _register()
    try:
        app()
    except CliError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("POINTS_DEBUG"):
            raise
        err_console.print(f"[red]error:[/red] {type(exc).__name__}: {exc}", highlight=False)
        sys.exit(1)
