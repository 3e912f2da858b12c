"""One error hierarchy for the whole pipeline: every failure says whether a retry can help.

Transport code decides what to do with a message from the class alone:
a ``TransientError`` is retried (in process, then by SQS redelivery), a ``PermanentError``
goes to the dead-letter queue at once with its reason, and a ``ConfigurationError`` is
about the process, not the message: it stops the process with one line naming what to fix
(a missing database, a schema behind the code, an invalid rules file), never retried.
"""

from __future__ import annotations


class PointsError(Exception):
    """Base of every error the pipeline raises on purpose."""

    #: A short, stable name for dashboards, DLQ attributes and ``--where error=…`` filters.
    code: str = "points_error"


class PermanentError(PointsError):
    """Retrying cannot help: the message must be dead-lettered with this reason."""

    code = "permanent"


class TransientError(PointsError):
    """The world may be better in a moment (database down, throttling, timeouts)."""

    code = "transient"


class ConfigurationError(PointsError):
    """The process cannot work as configured; retrying or dead-lettering cannot help."""

    code = "configuration"


class InvalidBody(PermanentError):
    """The SQS body is not UTF-8 JSON, or not a JSON object."""

    code = "invalid_body"


class InvalidEnvelope(PermanentError):
    """The body looks like an SNS envelope but is not a usable ``Notification``."""

    code = "invalid_envelope"


class UnsupportedSchemaVersion(PermanentError):
    """The event declares a ``schema_version`` this consumer does not understand."""

    code = "unsupported_schema_version"


class InvalidEvent(PermanentError):
    """The event is JSON but breaks contract v1; the message names every offending field."""

    code = "invalid_event"


class IdempotencyConflict(PermanentError):
    """An ``event_id`` was seen before with different content."""

    code = "idempotency_conflict"


class PaymentConflict(PermanentError):
    """An event's ``account_id`` or ``brand`` differs from its payment's earlier events."""

    code = "payment_conflict"
