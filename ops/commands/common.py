"""What the operator commands share: options, one-line errors, confirmation, exit codes.

Exit codes: 0 done; 1 some messages could not be moved/deleted (they are still where they
were); 2 bad input or refused; 3 the scan could not be sure it saw the whole queue;
130 interrupted (after printing what was done).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Final

import typer

from infra.resolve import ResourceNotFound
from ops.errors import OpsError
from ops.interrupt import EXIT_INTERRUPTED, stop_on_signals
from ops.output import CliError, err_console, exit_with
from ops.output import JsonFlag as JsonFlag  # re-exported: the commands take their options here
from ops.progress import Advance, progress_bar
from ops.scan import ScanEnd

EXIT_FAILED: Final = 1
EXIT_INCOMPLETE: Final = 3

WideFlag = Annotated[
    bool, typer.Option("--wide", help="Every column, however wide (piped output is TSV).")
]
QueueOption = Annotated[
    str,
    typer.Option(
        "--queue", help="A source queue (its DLQ) or a DLQ name, e.g. points, points-delivery-dlq."
    ),
]
HoldOption = Annotated[
    int,
    typer.Option(
        "--visibility-timeout",
        min=1,
        max=43200,
        help="Seconds examined messages stay hidden if this command dies (then they reappear).",
    ),
]
SettleOption = Annotated[
    float,
    typer.Option(
        "--settle",
        min=0,
        help="Seconds to wait for messages another reader holds before giving up (exit 3).",
    ),
]
ReasonOption = Annotated[
    str | None, typer.Option("--reason", help="Why (recorded in the operator audit).")
]
YesFlag = Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")]


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Operator mistakes and missing resources become one line with exit code 2."""
    try:
        yield
    except (OpsError, ResourceNotFound) as exc:
        raise CliError(str(exc)) from None


def say(text: str) -> None:
    """A line for the operator on stderr (never mixed into --json output)."""
    err_console.print(text, highlight=False)


def waiting(why: str) -> None:
    say(f"waiting: {why}")


def require_reason(reason: str | None, what: str) -> str:
    if reason is None or not reason.strip():
        raise CliError(f"{what} needs --reason TEXT (it is recorded in the operator audit)")
    return reason.strip()


def confirm_whole_queue(what: str, dlq_name: str, yes: bool) -> None:
    """Whole-queue actions: ``--yes``, or the DLQ's name typed on a terminal."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise CliError(f"{what} acts on all of {dlq_name}: pass --yes (no terminal to ask on)")
    answer = typer.prompt(f"{what} acts on all of {dlq_name}; type {dlq_name} to confirm", err=True)
    if answer.strip() != dlq_name:
        raise CliError("not confirmed; nothing was done")


@contextmanager
def operator_run(label: str, total: int) -> Iterator[tuple[threading.Event, Advance]]:
    """One-line errors, Ctrl-C as a stop request and a progress bar, for a DLQ command."""
    with (
        one_line_errors(),
        stop_on_signals(say) as stop,
        progress_bar(label, total) as advance,
    ):
        yield stop, advance


def finish(end: ScanEnd, failed: int = 0) -> None:
    """After the summary: say what an incomplete scan missed, and exit with its code."""
    if end.incomplete_reason and not end.interrupted:
        say(f"[red]incomplete:[/red] {end.incomplete_reason}; run the command again")
    if end.interrupted:
        exit_with(EXIT_INTERRUPTED)
    if not end.complete:
        exit_with(EXIT_INCOMPLETE)
    if failed:
        exit_with(EXIT_FAILED)
