"""Recording operator actions (DESIGN §5): who, when, what, how many, and why.

Every state-changing operator command runs inside ``audited(...)``; a command that is
over in one step (``ledger adjust``, ``rules publish``) calls ``record(...)`` once::

    with audited(config, "dlq redrive", arguments={...}, reason=reason) as action:
        ...                       # action.id numbers the operation
        action.counts["moved"] = n
    record(config, "ledger adjust", arguments={...}, counts={"points": 100}, reason="...")

The row is written before the command acts (outcome ``running``) and finished after it,
so a killed command still leaves a trace. The audit lives in the ledger database; a
command refuses to act when it cannot record there (nothing is done unaudited).
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import sqlalchemy as sa
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy.engine import Engine, make_url

from consumers.db import make_engine, normalise_url
from infra.aws import client_kwargs, session
from infra.settings import AwsSettings, Config
from ops.audit_tables import operator_actions, redrive_moves
from ops.errors import OpsError

ActionOutcome = Literal["running", "completed", "interrupted", "incomplete", "failed"]
_MAX_ARGUMENT_CHARS: Final = 4000


class AuditUnavailable(OpsError):
    """The operator audit cannot be written: the command must not act."""


@dataclass(frozen=True)
class Actor:
    #: The AWS caller identity's ARN, else the OS user.
    name: str
    os_user: str


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user with no name
        return f"uid:{os.getuid()}"


def resolve_actor(aws: AwsSettings) -> Actor:
    """Who is acting: ``sts:GetCallerIdentity`` when credentials work, else the OS user."""
    user = os_user()
    kwargs = client_kwargs(aws)
    kwargs["config"] = BotoConfig(
        retries={"total_max_attempts": 1}, connect_timeout=3, read_timeout=5
    )
    try:
        identity = session(aws).client("sts", **kwargs).get_caller_identity()
    except (BotoCoreError, ClientError):
        return Actor(user, user)
    return Actor(str(identity.get("Arn") or user), user)


@dataclass(frozen=True)
class Move:
    """One message a redrive sent back: the DLQ copy, the new message, the event."""

    queue: str
    dlq_message_id: str
    message_id: str
    original_message_id: str | None
    event_id: str | None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    command: str
    actor: str
    os_user: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    reason: str | None
    arguments: dict[str, Any]
    counts: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "command": self.command,
            "actor": self.actor,
            "os_user": self.os_user,
            "outcome": self.outcome,
            "reason": self.reason,
            "arguments": self.arguments,
            "counts": self.counts,
        }


class AuditLog:
    """The audit tables of one database (``open`` checks that they exist)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, database_url: str) -> AuditLog:
        url = make_url(normalise_url(database_url))
        where = url.render_as_string(hide_password=True)
        if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
            raise AuditUnavailable(
                f"no ledger database at {where}, where operator actions are recorded: "
                "set POINTS_DATABASE_URL (or --database-url) to the ledger database"
            )
        engine = make_engine(database_url)
        try:
            present = sa.inspect(engine).has_table(operator_actions.name)
        except sa.exc.SQLAlchemyError as exc:
            engine.dispose()
            raise AuditUnavailable(
                f"cannot reach the ledger database {where} to record this operator action: "
                f"{type(getattr(exc, 'orig', None) or exc).__name__}"
            ) from None
        if not present:
            engine.dispose()
            raise AuditUnavailable(
                f"{where} has no operator audit table; run `points db upgrade` first"
            )
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    def start(
        self, actor: Actor, command: str, arguments: Mapping[str, Any], reason: str | None
    ) -> int:
        row = {
            "command": command,
            "actor": actor.name[:512],
            "os_user": actor.os_user[:128],
            "started_at": datetime.now(UTC),
            "outcome": "running",
            "reason": reason,
            "arguments": _json(arguments)[:_MAX_ARGUMENT_CHARS],
            "counts": "{}",
        }
        with self.engine.begin() as connection:
            result = connection.execute(operator_actions.insert().values(row))
            key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def finish(self, action_id: int, outcome: ActionOutcome, counts: Mapping[str, Any]) -> None:
        update = (
            operator_actions.update()
            .where(operator_actions.c.id == action_id)
            .values(outcome=outcome, counts=_json(counts), finished_at=datetime.now(UTC))
        )
        with self.engine.begin() as connection:
            connection.execute(update)

    def record_moves(self, action_id: int, moves: Sequence[Move]) -> None:
        if not moves:
            return
        now = datetime.now(UTC)
        rows = [
            {
                "action_id": action_id,
                "queue": m.queue,
                "dlq_message_id": m.dlq_message_id,
                "message_id": m.message_id,
                "original_message_id": m.original_message_id,
                "event_id": m.event_id,
                "moved_at": now,
            }
            for m in moves
        ]
        with self.engine.begin() as connection:
            connection.execute(redrive_moves.insert(), rows)

    def entries(
        self, since: datetime | None = None, action_id: int | None = None
    ) -> list[AuditEntry]:
        """Newest first."""
        query = sa.select(operator_actions).order_by(operator_actions.c.id.desc())
        if since is not None:
            query = query.where(operator_actions.c.started_at >= since)
        if action_id is not None:
            query = query.where(operator_actions.c.id == action_id)
        with self.engine.connect() as connection:
            return [_entry(row) for row in connection.execute(query).mappings()]

    def moves(self, action_id: int) -> list[Move]:
        query = (
            sa.select(redrive_moves)
            .where(redrive_moves.c.action_id == action_id)
            .order_by(redrive_moves.c.id)
        )
        with self.engine.connect() as connection:
            return [
                Move(
                    r["queue"],
                    r["dlq_message_id"],
                    r["message_id"],
                    r["original_message_id"],
                    r["event_id"],
                )
                for r in connection.execute(query).mappings()
            ]


def _json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _entry(row: sa.RowMapping) -> AuditEntry:
    return AuditEntry(
        id=int(row["id"]),
        command=row["command"],
        actor=row["actor"],
        os_user=row["os_user"],
        started_at=_aware(row["started_at"]),
        finished_at=_aware(row["finished_at"]) if row["finished_at"] else None,
        outcome=row["outcome"],
        reason=row["reason"],
        arguments=json.loads(row["arguments"]),
        counts=json.loads(row["counts"]),
    )


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass
class Action:
    """A running audited action; set ``counts`` (and ``outcome`` unless it just completed)."""

    log: AuditLog
    id: int
    counts: dict[str, Any] = field(default_factory=dict)
    outcome: ActionOutcome = "completed"


@contextmanager
def audited(
    config: Config,
    command: str,
    *,
    arguments: Mapping[str, Any],
    reason: str | None,
    log: AuditLog | None = None,
) -> Iterator[Action]:
    """Record ``command`` before it acts and its counts and outcome after (see module doc)."""
    own = log is None
    log = log or AuditLog.open(config.points.database_url)
    try:
        action = Action(log, log.start(resolve_actor(config.aws), command, arguments, reason))
        try:
            yield action
        except KeyboardInterrupt:
            log.finish(action.id, "interrupted", action.counts)
            raise
        except BaseException:
            log.finish(action.id, "failed", action.counts)
            raise
        log.finish(action.id, action.outcome, action.counts)
    finally:
        if own:
            log.close()


def record(
    config: Config,
    command: str,
    *,
    arguments: Mapping[str, Any],
    counts: Mapping[str, Any],
    reason: str | None,
) -> int:
    """One completed operator action in one call (for one-step commands); returns its id."""
    with audited(config, command, arguments=arguments, reason=reason) as action:
        action.counts.update(counts)
    return action.id
