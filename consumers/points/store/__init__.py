"""The ledger's storage: the interface (``persistence``), its typed records (``records``),
the one row mapping (``rows``) and the drivers (``core``, ``sqlite``, ``postgres``).

``open_store`` is the one factory: it picks the driver for the engine's dialect and DBAPI.
A new storage driver is a module here with a ``LedgerUnitOfWork``/``LedgerStore`` pair
(usually subclassing ``core``'s, replacing ``claim`` and ``_write_and_commit``), one line in
``open_store``, and the store tests run against it (``tests/integration/test_store_contract.py``).
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy.engine import Engine

from consumers.points.store.persistence import LedgerStore, LedgerUnitOfWork

Driver = Literal["auto", "core"]

__all__ = ["Driver", "LedgerStore", "LedgerUnitOfWork", "open_store"]


def open_store(engine: Engine, driver: Driver = "auto") -> LedgerStore:
    """The store for ``engine``: psycopg pipelines on PostgreSQL, raw sqlite3 on SQLite,
    SQLAlchemy Core for any other driver (or for every one with ``driver="core"``)."""
    from consumers.points.store.core import CoreLedgerStore

    dialect = engine.dialect
    if driver == "core":
        return CoreLedgerStore(engine)
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        from consumers.points.store.postgres import PostgresLedgerStore

        return PostgresLedgerStore(engine)
    if dialect.name == "sqlite" and dialect.driver == "pysqlite":
        from consumers.points.store.sqlite import SqliteLedgerStore

        return SqliteLedgerStore(engine)
    return CoreLedgerStore(engine)
