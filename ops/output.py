"""Printing results: ``--json`` for machines, rich tables for people, one line for errors."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

#: Every command's ``--json`` (here rather than in ``ops.commands.common`` because commands
#: that must start fast import only this module).
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


class CliError(Exception):
    """Bad input or an unusable environment: printed as one line, exit code ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()


def fail(message: str, exit_code: int = 2) -> NoReturn:
    raise CliError(message, exit_code)


def exit_with(code: int) -> NoReturn:
    raise typer.Exit(code)
