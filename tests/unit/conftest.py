"""Unit tests use fakes of our own ports only (#12 item 5): a unit test whose fixtures reach a
real backend (moto, PostgreSQL, a SQLite file), directly or through another fixture, or that
is marked as needing one, fails before it sets up, naming what it uses."""

from __future__ import annotations

import pytest

from tests.support.boundaries import REAL_BACKEND_MARKERS, real_fixtures


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    info = getattr(item, "_fixtureinfo", None)
    used = real_fixtures(info.name2fixturedefs) if info is not None else []
    used += [f"@pytest.mark.{m}" for m in REAL_BACKEND_MARKERS if item.get_closest_marker(m)]
    if used:
        pytest.fail(
            f"a unit test may use fakes only, this one uses {', '.join(used)}: "
            "move it to tests/integration (or tests/e2e if it runs the console script)",
            pytrace=False,
        )
