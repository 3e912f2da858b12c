"""Shared fixtures: a real moto server process and a real PostgreSQL database; the
hypothesis profiles.

Under ``CI=true`` a missing PostgreSQL is a failure, never a skip: CI must prove the
production database path. On a laptop the tests that need it skip with a loud reason.

Hypothesis profiles (``HYPOTHESIS_PROFILE``, default ``dev``; ``.ci/run`` selects ``ci``):
property tests that do not pin ``max_examples`` (the ledger and domain properties, the
brand adapters) search 100 examples locally and ``CI_EXAMPLES`` in CI, with fresh random
examples on every run (never ``derandomize``) and the reproduction blob of any failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from hypothesis import settings
from sqlalchemy.engine import make_url

from infra.local import EmbeddedAws
from infra.settings import Config

DEFAULT_POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CI_EXAMPLES = 500

settings.register_profile("dev", print_blob=True)
# No deadline in CI: two shared cores make one slow example noise, not a finding.
settings.register_profile("ci", max_examples=CI_EXAMPLES, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session")
def moto_server() -> Iterator[EmbeddedAws]:
    """One moto server process for the whole session (reset between tests)."""
    with EmbeddedAws() as server:
        yield server


@pytest.fixture
def aws(moto_server: EmbeddedAws, monkeypatch: pytest.MonkeyPatch) -> Config:
    """A fresh, empty AWS on the moto server; the environment points at it."""
    moto_server.reset()
    for key, value in moto_server.environment().items():
        monkeypatch.setenv(key, value)
    return Config.resolve(endpoint_url=moto_server.endpoint_url, region=moto_server.region)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of its own for this test session, dropped at the end.

    ``POINTS_TEST_POSTGRES_URL`` names the server (any database on it); .ci/run sets it.
    """
    server_url = os.environ.get("POINTS_TEST_POSTGRES_URL", DEFAULT_POSTGRES_SERVER)
    # Pre-ping: the chaos run restarts the server mid-session under CI (its pooled
    # connection would be dead at teardown).
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("select 1"))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        message = f"PostgreSQL is not reachable at {make_url(server_url).render_as_string()}: {exc}"
        if IN_CI:
            pytest.fail(f"CI=true requires PostgreSQL. {message}", pytrace=False)
        pytest.skip(f"!!! SKIPPING PostgreSQL tests !!! {message}")
    name = f"points_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                ),
                {"n": name},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture
def postgres_url(postgres_database: str) -> str:
    """The session database, emptied: every test starts from no tables at all."""
    engine = sa.create_engine(postgres_database, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    return postgres_database


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    return f"sqlite:///{tmp_path}/points.sqlite3"
