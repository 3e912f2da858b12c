"""Progress bars for scans, exports, replays and redrives that take more than a screenful.

On stderr, and only when stderr is a terminal: piped or captured output stays clean.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ops.output import err_console


class Advance(Protocol):
    """Move the bar on by ``n``, optionally with a new description."""

    def __call__(self, n: int, description: str | None = None) -> None: ...


def wanted(total: int | None, console: Console = err_console) -> bool:
    """A bar when stderr is a terminal and the work is more than a screenful of lines."""
    return console.is_terminal and (total is None or total > console.height)


def _nothing(n: int, description: str | None = None) -> None:
    del n, description


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Advance]:
    """``advance(n, description)``; a no-op when no bar is wanted."""
    if not wanted(total):
        yield _nothing
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    label = description
    with Progress(*columns, console=err_console, transient=False) as progress:
        task = progress.add_task(label, total=total or None)

        def advance(n: int, description: str | None = None) -> None:
            progress.update(task, advance=n, description=description or label)

        yield advance
