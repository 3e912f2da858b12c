"""The ``points`` command: a thin entrypoint over the packages (cosmicpython style).

Settings are resolved once here, from flags then environment then defaults, and handed to
commands through the Typer context. Errors print one line and exit non-zero; set
``POINTS_DEBUG=1`` for a traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Annotated, Final

import typer
from botocore.exceptions import ProfileNotFound

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
    profile: Annotated[
        str | None,
        typer.Option(
            help="AWS profile, with its region unless one is given (default: $AWS_PROFILE)."
        ),
    ] = None,
) -> None:
    """Global options may also follow the sub-command (``points dlq show --profile prod``)."""
    try:
        ctx.obj = Config.resolve(
            endpoint_url=endpoint_url,
            region=region,
            database_url=database_url,
            resource_prefix=prefix,
            profile=profile,
        )
    except ProfileNotFound as exc:
        raise CliError(f"AWS profile {exc.kwargs.get('profile')!r} is not configured") from None


#: name -> (module, attribute, is a group). Only the invoked command's module is imported:
#: the health check of every ECS task runs ``points worker --healthcheck`` and should not
#: pay for importing boto3, SQLAlchemy and Alembic for commands it does not run.
COMMANDS: Final = {
    "schemas": ("ops.commands.schemas", "app", True),
    "db": ("ops.commands.db", "app", True),
    "infra": ("ops.commands.infra", "app", True),
    "outbox": ("ops.commands.outbox", "app", True),
    "ledger": ("ops.commands.ledger", "app", True),
    "dlq": ("ops.commands.dlq", "app", True),
    "local": ("ops.commands.infra", "local", False),
    "publish": ("ops.commands.publish", "publish", False),
    "demo": ("ops.commands.demo", "demo", False),
    "worker": ("ops.commands.worker", "worker", False),
    "replay": ("ops.commands.replay", "replay", False),
    "audit": ("ops.commands.audit", "audit", False),
    "rules": ("ops.commands.rules", "app", True),
}
#: Commands of a group that live in a module of their own: group -> (name, module, attribute).
GROUP_COMMANDS: Final = {
    "ledger": (
        ("adjust", "ops.commands.adjust", "adjust"),
        ("explain", "ops.commands.explain", "explain_command"),
    ),
}
#: Root options that take a value (their value is not a command name).
_VALUE_OPTIONS: Final = frozenset(
    {"--endpoint-url", "--region", "--database-url", "--prefix", "--profile"}
)


def invoked_command(argv: list[str]) -> str | None:
    """The sub-command named on the command line, if it is one of ours."""
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token in _VALUE_OPTIONS:
            skip = True
        elif not token.startswith("-"):
            return token if token in COMMANDS else None
    return None


def hoist_global_options(argv: list[str]) -> list[str]:
    """Root options found after the sub-command, moved before it (values included).

    Operators type ``points dlq show --profile prod`` as they type ``aws sqs … --profile``;
    Typer only reads root options before the sub-command. Nothing after ``--`` moves.
    """
    front: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg == "--":
            rest += argv[index:]
            break
        name = arg.split("=", 1)[0]
        if name in _VALUE_OPTIONS:
            takes_next = "=" not in arg and index + 1 < len(argv)
            front += argv[index : index + (2 if takes_next else 1)]
            index += 2 if takes_next else 1
            continue
        rest.append(arg)
        index += 1
    return front + rest


def _register(only: str | None = None) -> None:
    """Attach the commands (all of them, or just ``only``) to the root app."""
    for name, (module_name, attribute, is_group) in COMMANDS.items():
        if only is not None and name != only:
            continue
        target = getattr(importlib.import_module(module_name), attribute)
        if is_group:
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)


def main() -> None:
    argv = hoist_global_options(sys.argv[1:])
    _register(invoked_command(argv))
    try:
        app(args=argv)
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
