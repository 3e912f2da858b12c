"""The errors of the operator tools: each one is a sentence an operator can act on.

They are plain exceptions (not ``CliError``) so the functions stay callable from Python
(the demo, notebooks); the Typer layer turns them into one-line CLI errors.
"""

from __future__ import annotations


class OpsError(Exception):
    """Bad operator input or a refused operation; the message says what to do instead."""


class UnknownQueue(OpsError):
    """A queue name that is not part of the topology (the message lists the known ones)."""


class SelectionError(OpsError):
    """A malformed ``--where``/``--id``/``--error`` selection."""


class NativeRedriveUnsupported(OpsError):
    """The endpoint (or the queue) cannot do an SQS StartMessageMoveTask."""


class PurgeRefused(OpsError):
    """A purge without a fresh export of the same queue (and without ``--force``)."""


class ExportError(OpsError):
    """An export that cannot start, e.g. because its output file exists already."""


class ReplayInputError(OpsError):
    """A replay file that is not a ``points dlq export`` file, or names unknown queues."""
