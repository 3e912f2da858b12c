"""Progress bars for scans, exports, replays and redrives that take more than a screenful.

On stderr, and only when stderr is a terminal: piped or captured output stays clean.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ops.output import err_console

Advance = Callable[[int, str | None], None]


def wanted(total: int | None, console: Console = err_console) -> bool:
    """A bar when stderr is a terminal and the work is more than a screenful of lines."""
    return console.is_terminal and (total is None or total > console.height)


def _nothing(_n: int, _description: str | None = None) -> None:
    return None


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
    with Progress(*columns, console=err_console, transient=False) as progress:
        task = progress.add_task(description, total=total or None)

        def advance(n: int, text: str | None = None) -> None:
            progress.update(task, advance=n, description=text or description)

        yield advance
