"""The README's Performance figures are the committed benchmark artefacts' figures."""

from __future__ import annotations

import copy
import re

from benchmarks import report

PERFORMANCE = re.compile(r"^## Performance\n(.*?)(?=^## |\Z)", re.MULTILINE | re.DOTALL)


def _committed() -> tuple[str, str]:
    readme = report.README.read_text()
    block = report.render(report.load(report.RESULTS), report.load(report.PROFILE))
    return readme, block


def test_readme_performance_block_is_rendered_from_the_committed_results() -> None:
    """Between the markers, the README holds exactly what ``benchmarks.report`` renders from
    ``benchmarks/results.json`` and ``benchmarks/profile.json``: a figure typed by hand, or
    a results file regenerated without the README, fails here."""
    readme, block = _committed()
    assert report.current_block(readme) == block, "run `python -m benchmarks.report`"


def test_a_changed_result_no_longer_matches_the_readme() -> None:
    """Planting another value in the results (here the Powertools speedup) makes the
    rendered block differ from the README: the check above can fail."""
    readme, _ = _committed()
    results = copy.deepcopy(report.load(report.RESULTS))
    results["powertools"]["postgresql"]["speedup"] += 1.0
    assert report.render(results, report.load(report.PROFILE)) != report.current_block(readme)


def test_performance_prose_outside_the_block_holds_no_figures() -> None:
    """The hand-written part of the Performance section has no digits, so every number in
    the section comes from an artefact."""
    readme, _ = _committed()
    match = PERFORMANCE.search(readme)
    assert match is not None
    outside = match.group(1).replace(report.current_block(readme), "")
    assert re.findall(r"\d", outside) == []


def test_a_failed_section_renders_as_not_available() -> None:
    """A run whose sections failed (empty documents) still renders, saying n/a where a
    figure is missing rather than inventing one."""
    block = report.render({}, {})
    assert block.startswith(report.BEGIN)
    assert block.endswith(report.END)
    assert "n/a" in block
