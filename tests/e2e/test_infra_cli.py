"""``points infra template`` as operators run it: the installed console script."""

from __future__ import annotations

import json

from infra.cloudformation import render_template
from infra.topology import topology_for
from tests.support.cli import run_points


def test_cli_prints_the_rendered_template() -> None:
    """The installed ``points --prefix cli- infra template`` prints that topology's template."""
    result = run_points("--prefix", "cli-", "infra", "template")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == render_template(topology_for("cli-"))
