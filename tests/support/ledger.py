"""The ledger of a test database, built by the production bootstrap."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from consumers.bootstrap import Ledger, bootstrap_ledger
from infra.settings import Config


def ledger_on(database: Engine | str, **overrides: Any) -> Ledger:
    """``bootstrap_ledger`` on the (migrated) database of ``database``; ``overrides`` are its
    keyword overrides (``rules``, ``retry``, ``driver``, ``migrate``)."""
    url = database if isinstance(database, str) else database.url.render_as_string(False)
    return bootstrap_ledger(Config.resolve(database_url=url), **overrides)
