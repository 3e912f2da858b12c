"""The test suites stay apart (#12 item 5): unit tests reach no real backend, benchmarks
import nothing from the tests; and the checks behind that catch what they are meant to."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.support.boundaries import (
    benchmark_violations,
    real_fixtures,
    unit_violations,
    violations_under,
)

ROOT = Path(__file__).resolve().parents[2]


def _names(source: str) -> list[str]:
    return [v.name for v in unit_violations(source)]


def test_no_unit_test_module_reaches_a_real_backend() -> None:
    """No module under tests/unit imports moto, a driver, an engine factory or a helper on
    real backends (move such a test to tests/integration or tests/e2e)."""
    assert violations_under(ROOT / "tests" / "unit", unit_violations) == {}


def test_benchmarks_import_nothing_from_the_tests() -> None:
    """Benchmarks build their own workloads: no module under benchmarks/ imports ``tests``."""
    assert violations_under(ROOT / "benchmarks", benchmark_violations) == {}


def test_engines_are_found_through_aliases_and_attributes() -> None:
    """``sa.create_engine``, ``db.make_engine`` and a bootstrap imported inside a function
    all count, each under its full name."""
    source = (
        "import sqlalchemy as sa\n"
        "from consumers import db\n"
        "def f(url):\n"
        "    from consumers.bootstrap import bootstrap_ledger\n"
        "    return sa.create_engine(url), db.make_engine(url), bootstrap_ledger\n"
    )
    assert _names(source) == [
        "consumers.bootstrap.bootstrap_ledger",
        "consumers.db.make_engine",
        "sqlalchemy.create_engine",
    ]


def test_emulators_drivers_and_real_backend_helpers_are_found() -> None:
    """moto's server, database drivers and the test helpers built on them are refused."""
    source = (
        "from infra.local import EmbeddedAws\n"
        "import psycopg\n"
        "import sqlite3\n"
        "from moto import mock_aws\n"
        "from tests.support.ledger_kit import migrated_engine\n"
    )
    assert _names(source) == [
        "infra.local.EmbeddedAws",
        "psycopg",
        "sqlite3",
        "moto.mock_aws",
        "tests.support.ledger_kit.migrated_engine",
    ]


def test_production_modules_and_sqlalchemy_values_are_allowed() -> None:
    """Importing production code that uses SQLAlchemy, its exception types, and the pure
    test helpers (factories, reference models, stories) is what unit tests do."""
    source = (
        "import sqlalchemy as sa\n"
        "from consumers.bootstrap import Ledger\n"
        "from consumers.db import classify_db_error\n"
        "from tests.support.factories import make_event\n"
        "from tests.support import reference\n"
        "error = sa.exc.OperationalError('connect', None, Exception())\n"
        "create_engine = 'a local name is not sqlalchemy.create_engine'\n"
    )
    assert _names(source) == []


def test_benchmark_imports_of_tests_are_found() -> None:
    """``import tests…`` and ``from tests… import`` in a benchmark are both refused; the
    benchmarks' own modules are not."""
    source = (
        "from benchmarks.workload import payment_bodies\n"
        "import tests.support.factories\n"
        "from tests.support import reference\n"
    )
    assert [v.name for v in benchmark_violations(source)] == [
        "tests.support.factories",
        "tests.support.reference",
    ]


@dataclass
class _Definition:
    argname: str
    func: object


def _defined_in(module: str) -> object:
    def fixture() -> None: ...

    fixture.__module__ = module
    return fixture


def test_real_fixtures_are_judged_by_where_they_are_defined() -> None:
    """The conftest's ``aws`` and ``sqlite_url`` are real backends; a unit module's own fake
    fixture named ``aws`` is not; the definition in force is the last one."""
    closure = {
        "aws": [_Definition("aws", _defined_in("tests.conftest"))],
        "sqlite_url": [_Definition("sqlite_url", _defined_in("tests.conftest"))],
        "tmp_path": [_Definition("tmp_path", _defined_in("_pytest.tmpdir"))],
    }
    real = ["aws (from tests.conftest)", "sqlite_url (from tests.conftest)"]
    assert real_fixtures(closure) == real
    shadowed = {
        "aws": [
            _Definition("aws", _defined_in("tests.conftest")),
            _Definition("aws", _defined_in("tests.unit.ops.test_fake")),
        ]
    }
    assert real_fixtures(shadowed) == []
