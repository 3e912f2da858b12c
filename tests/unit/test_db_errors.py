"""Database errors are judged once (``consumers.db.classify_db_error``)."""

from __future__ import annotations

import sqlalchemy as sa

from consumers.db import (
    DatabaseMisconfigured,
    DatabaseUnavailable,
    DataRefused,
    classify_db_error,
)


class _DriverError(Exception):
    def __init__(self, text: str, sqlstate: str | None = None) -> None:
        super().__init__(text)
        self.sqlstate = sqlstate


def _operational(text: str, sqlstate: str | None = None) -> sa.exc.OperationalError:
    return sa.exc.OperationalError("connect", None, _DriverError(text, sqlstate))


def test_a_deadlock_is_transient() -> None:
    """SQLSTATE 40P01 heals by retrying."""
    error = sa.exc.DBAPIError("UPDATE …", None, _DriverError("deadlock detected", "40P01"))
    assert isinstance(classify_db_error(error), DatabaseUnavailable)


def test_a_refused_connection_is_transient() -> None:
    """A server that is away (connection refused) may come back."""
    error = _operational('connection to server at "127.0.0.1", port 1 failed: Connection refused')
    assert isinstance(classify_db_error(error), DatabaseUnavailable)


def test_a_missing_database_is_a_configuration_error_naming_the_setting() -> None:
    """libpq's 'database … does not exist' (3D000, reported without its SQLSTATE)."""
    text = (
        'connection failed: connection to server at "127.0.0.1", port 5432 failed: '
        'FATAL:  database "pointz" does not exist'
    )
    error = classify_db_error(_operational(text))
    assert isinstance(error, DatabaseMisconfigured)
    assert str(error) == 'POINTS_DATABASE_URL: database "pointz" does not exist'


def test_refused_authentication_is_a_configuration_error() -> None:
    """28P01 by SQLSTATE and by libpq's message."""
    by_state = _operational("FATAL:  password authentication failed", "28P01")
    by_text = _operational('FATAL:  password authentication failed for user "points"')
    assert isinstance(classify_db_error(by_state), DatabaseMisconfigured)
    assert isinstance(classify_db_error(by_text), DatabaseMisconfigured)


def test_an_unknown_host_is_a_configuration_error() -> None:
    """A host name that does not resolve is named, not waited for."""
    error = _operational(
        "failed to resolve host 'db.invalid': [Errno -2] Name or service not known"
    )
    assert isinstance(classify_db_error(error), DatabaseMisconfigured)


def test_a_refusal_of_the_data_is_permanent() -> None:
    """Integrity and data errors are about the data: DataRefused."""
    error = sa.exc.IntegrityError("INSERT …", None, _DriverError("duplicate key"))
    assert isinstance(classify_db_error(error), DataRefused)


def test_errors_that_are_not_database_errors_are_left_alone() -> None:
    """Anything else is not judged here (a bug propagates as itself)."""
    assert classify_db_error(KeyError("x")) is None
