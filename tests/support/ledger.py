"""The ledger of a test database, built by the production bootstrap."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from consumers.bootstrap import Ledger, bootstrap_ledger
from consumers.points.rules import DEFAULT_RULES, Rules
from consumers.points.verify import VerifyReport
from infra.settings import Config


def ledger_on(database: Engine | str, **overrides: Any) -> Ledger:
    """``bootstrap_ledger`` on the (migrated) database of ``database``; ``overrides`` are its
    keyword overrides (``rules``, ``retry``, ``driver``, ``migrate``)."""
    url = database if isinstance(database, str) else database.url.render_as_string(False)
    return bootstrap_ledger(Config.resolve(database_url=url), **overrides)


def verified(database: Engine | str, rules: Rules = DEFAULT_RULES) -> VerifyReport:
    """``points ledger verify`` of ``database`` under ``rules``, as the CLI runs it."""
    with ledger_on(database, rules=rules) as ledger:
        return ledger.verify()
