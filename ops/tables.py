"""Tables for people, TSV for pipes.

On a terminal a table fits the console (80 columns included): identifier columns are never
wrapped or cut (their width is their longest value), text columns fold. ``--wide`` adds the
columns marked wide and lets the table be as wide as it needs. When stdout is not a
terminal, every column is printed as tab-separated values with a header line (``cut``,
``awk`` and spreadsheets read it), like ``gh`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from ops.output import console


@dataclass(frozen=True)
class Column:
    name: str
    #: An identifier: never wrapped, never cut.
    is_id: bool = False
    #: Only with ``--wide`` (and always in TSV).
    wide: bool = False
    justify_right: bool = False


def emit_table(
    title: str,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    *,
    wide: bool = False,
    out: Console | None = None,
) -> None:
    """On ``out`` (default: stdout's console) as a table, or as TSV when not a terminal."""
    out = out or console
    if not out.is_terminal:
        out.file.write(tsv(columns, rows))
        out.file.flush()
        return
    shown = [i for i, c in enumerate(columns) if wide or not c.wide]
    table = Table(title=title)
    for i in shown:
        column = columns[i]
        longest = max([len(column.name)] + [len(r[i]) for r in rows])
        table.add_column(
            column.name,
            no_wrap=column.is_id,
            min_width=longest if column.is_id else None,
            overflow="fold",
            justify="right" if column.justify_right else "left",
        )
    for row in rows:
        table.add_row(*(row[i] for i in shown))
    target = Console(file=out.file, width=max(out.width, 400), soft_wrap=True) if wide else out
    target.print(table)


def tsv(columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> str:
    lines = ["\t".join(c.name for c in columns)]
    lines += ["\t".join(_cell(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def _cell(value: str) -> str:
    return " ".join(value.replace("\t", " ").splitlines())
