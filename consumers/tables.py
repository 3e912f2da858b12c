"""Every table of the consumer database, registered on ``consumers.db.metadata``.

Importing a table module registers its tables; this is the one list of them, used by the
migration drift test (and by anything that needs the whole schema).
"""

from __future__ import annotations

import importlib
from typing import Final

import sqlalchemy as sa

from consumers.db import metadata

TABLE_MODULES: Final = (
    "consumers.journal",
    "consumers.notifications.tables",
    "consumers.points.tables",
    "consumers.points.rule_tables",
    "ops.audit_tables",
)


def all_tables() -> sa.MetaData:
    for module in TABLE_MODULES:
        importlib.import_module(module)
    return metadata
