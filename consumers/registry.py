"""Which handler consumes which queue. Adding a consumer needs no producer change: declare
its queue (and filter) in ``infra/topology.py`` and register a factory here."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import Engine

from consumers.handler import Handler
from infra.settings import Config
from schemas.errors import ConfigurationError

HandlerFactory = Callable[[Config, Engine], Handler]


def _points(config: Config, engine: Engine) -> Handler:
    """The ledger with the rules published in its database (re-read when they change)."""
    from consumers.points.ledger import PointsLedger
    from consumers.points.published import PublishedRules, check_rules_file
    from consumers.points.store import open_store

    store = open_store(engine)
    check_rules_file(store, config.points.rules_file)
    return PointsLedger(store, PublishedRules())


def _notifications(config: Config, engine: Engine) -> Handler:
    """Notifications quote the rates of the rules published when the worker started."""
    from consumers.notifications.handler import NotificationsHandler
    from consumers.points.published import check_rules_file, latest_rules
    from consumers.points.store import open_store

    store = open_store(engine, "core")
    check_rules_file(store, config.points.rules_file)
    return NotificationsHandler(engine, latest_rules(store))


HANDLERS: dict[str, HandlerFactory] = {"points": _points, "notifications": _notifications}


class NoHandlerForQueue(ConfigurationError):
    """``--queue`` names a queue no consumer is registered for."""

    code = "no_handler_for_queue"


def handler_factory(queue: str) -> HandlerFactory:
    try:
        return HANDLERS[queue]
    except KeyError:
        raise NoHandlerForQueue(
            f"no handler for queue {queue!r} (known: {', '.join(sorted(HANDLERS))})"
        ) from None
