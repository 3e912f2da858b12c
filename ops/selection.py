"""Which DLQ messages a redrive takes: ``--id``, ``--where KEY=VALUE`` and ``--error``.

Values of the same key are alternatives (``--where brand=visa --where brand=quicpay``),
different keys must all match, and ``--id`` narrows further: the DLQ message id, the id the
message had in its source queue (the one the worker logged) or the event id.
No criterion at all selects every message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from ops.errors import SelectionError
from ops.examine import Examined

WHERE_KEYS: Final = ("event_id", "event_type", "payment_id", "account_id", "brand", "error")


@dataclass(frozen=True)
class Selection:
    ids: frozenset[str] = frozenset()
    where: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def parse(
        cls, ids: Iterable[str] = (), where: Iterable[str] = (), errors: Iterable[str] = ()
    ) -> Selection:
        """From CLI-shaped input; raises ``SelectionError`` naming the expected form."""
        criteria: dict[str, set[str]] = {}
        for clause in where:
            key, value = parse_where(clause)
            criteria.setdefault(key, set()).add(value)
        for error in errors:
            if not error.strip():
                raise SelectionError("--error needs an error type, e.g. --error invalid_event")
            criteria.setdefault("error", set()).add(error.strip())
        return cls(
            ids=frozenset(i.strip() for i in ids if i.strip()),
            where={k: frozenset(v) for k, v in criteria.items()},
        )

    @property
    def everything(self) -> bool:
        return not self.ids and not self.where

    def describe(self) -> dict[str, object]:
        """As the audit records it (sorted, so equal selections read the same)."""
        return {
            "ids": sorted(self.ids),
            "where": {key: sorted(values) for key, values in sorted(self.where.items())},
        }

    def matches(self, item: Examined) -> bool:
        names = {item.message_id, item.original_message_id, item.facts.event_id}
        if self.ids and not (names & self.ids):
            return False
        return all(value_of(item, key) in values for key, values in self.where.items())


def parse_where(clause: str) -> tuple[str, str]:
    key, sep, value = clause.partition("=")
    key, value = key.strip(), value.strip()
    if not sep or not key or not value:
        raise SelectionError(
            f"malformed --where {clause!r}: expected KEY=VALUE with KEY one of "
            f"{', '.join(WHERE_KEYS)}"
        )
    if key not in WHERE_KEYS:
        raise SelectionError(
            f"unknown --where key {key!r}: expected KEY=VALUE with KEY one of "
            f"{', '.join(WHERE_KEYS)}"
        )
    return key, value


def value_of(item: Examined, key: str) -> str | None:
    if key == "error":
        return item.reason.error_type
    return item.facts.get(key)
