"""Reading rows by explicit ids, the one way every ledger read that names ids does it.

Explicit ids, never a join or ``IN (subquery)``: with those PostgreSQL's planner may pick
a hash join over the whole events table (``reads.accounts_snapshot`` measured it).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

#: Ids per ``IN`` list off PostgreSQL (well under SQLite's bind-parameter limit).
IN_LIST_SLICE: Final = 500


def select_among(
    connection: sa.Connection, query: sa.Select[Any], column: sa.Column[Any], values: Sequence[str]
) -> Iterator[sa.Row[Any]]:
    """Rows of ``query`` whose ``column`` is one of ``values``: one ``= ANY(array)`` on
    PostgreSQL (one bind, a cached statement), slices of ``IN`` elsewhere."""
    if not values:
        return
    if connection.dialect.name == "postgresql":
        among = sa.bindparam("values", list(values), type_=postgresql.ARRAY(sa.String()))
        yield from connection.execute(query.where(column == sa.any_(among))).all()
        return
    for start in range(0, len(values), IN_LIST_SLICE):
        sliced = query.where(column.in_(values[start : start + IN_LIST_SLICE]))
        yield from connection.execute(sliced).all()
