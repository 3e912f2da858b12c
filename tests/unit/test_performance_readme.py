"""The README's Performance figures are the committed benchmark artefacts' figures."""

from __future__ import annotations

import copy
import re
from typing import Any

from benchmarks import report, scale_history, scale_readme, scale_report, v2_cost_readme

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
    outside = outside.replace(scale_readme.current_block(readme), "")
    outside = outside.replace(v2_cost_readme.current_block(readme), "")
    assert re.findall(r"\d", outside) == []


def test_readme_v2_cost_block_is_rendered_from_the_committed_runs() -> None:
    """Between the ``v2-cost`` markers, the README holds what ``benchmarks.v2_cost_readme``
    renders from ``benchmarks/v2-cost.json``, verdict included."""
    readme = report.README.read_text()
    document = report.load(report.V2_COST)
    assert v2_cost_readme.current_block(readme) == v2_cost_readme.render(document)
    planted = copy.deepcopy(document)
    planted["runs"][0]["trees"]["v2-capped"]["us_per_event"] += 40
    assert v2_cost_readme.render(planted) != v2_cost_readme.current_block(readme)


def test_the_v2_cost_verdict_judges_the_like_for_like_cost() -> None:
    """Within the budget only when every batch-100 run's cost against v1 with the same
    driver fixes is at most 15 %: the shipped v1 alone does not decide it."""
    trees = {"v1": 100, "v1-driver-fixes": 80, "v2": 90, "v2-capped": 95}
    run = {"batch_size": 100, "trees": {k: {"us_per_event": v} for k, v in trees.items()}}
    (line,) = v2_cost_readme.verdict({"runs": [run]})
    assert "**v2**: -11.1 %–-11.1 % against v1 as shipped, 11.1 %–11.1 %" in line
    assert "(within the budget" in line.split("**v2-capped**")[0]
    assert "NOT within" in line.split("**v2-capped**")[1]


def test_the_v2_cost_verdict_states_the_cap_work_alone() -> None:
    """Beside the budget, what the cap and campaign work costs in the same checkout:
    v2-capped against v2 under the default rules."""
    trees = {"v1": 100, "v1-driver-fixes": 80, "v2": 90, "v2-capped": 100}
    run = {"batch_size": 100, "trees": {k: {"us_per_event": v} for k, v in trees.items()}}
    (line,) = v2_cost_readme.verdict({"runs": [run]})
    assert line.endswith("(v2-capped against v2, the same checkout): 10.0 %–10.0 %.")


def _paired(capped: list[float], fixed: list[float], uncapped: list[float]) -> dict[str, Any]:
    trees = {"v1": fixed, "v1-driver-fixes": fixed, "v2": uncapped, "v2-capped": capped}
    summaries = {k: {"us_per_event": sum(v) / len(v), "round_us": v} for k, v in trees.items()}
    return {"batch_size": 100, "trees": summaries}


def test_the_pooled_cost_compares_the_sums_of_paired_rounds() -> None:
    """Over every round of every run: 1 − base time ÷ tree time (rounds of equal slices)."""
    runs = [_paired([120, 100], [100, 100], [110, 100]), _paired([80], [70], [80])]
    assert round(v2_cost_readme.pooled_cost(runs, "v2-capped", "v1-driver-fixes"), 4) == 0.1
    assert round(v2_cost_readme.pooled_cost(runs, "v2-capped", "v2"), 4) == 0.0333


def test_the_pooled_interval_widens_with_the_spread_between_runs() -> None:
    """Runs that disagree give a wide interval even with many rounds each, and the
    interval is reproducible (the README is rendered from it)."""
    agreeing = [_paired([110] * 20, [100] * 20, [105] * 20) for _ in range(6)]
    spread = [_paired([100 + c] * 20, [100] * 20, [105] * 20) for c in (5, 25, 8, 22, 10, 20)]
    low, high = v2_cost_readme.pooled_interval(agreeing, "v2-capped", "v1-driver-fixes")
    assert round(low, 4) == round(high, 4) == round(1 - 100 / 110, 4)
    wide = v2_cost_readme.pooled_interval(spread, "v2-capped", "v1-driver-fixes")
    assert wide[1] - wide[0] > 0.05
    assert wide == v2_cost_readme.pooled_interval(spread, "v2-capped", "v1-driver-fixes")


def test_the_budget_verdict_needs_the_whole_interval_on_one_side() -> None:
    """Within only when the interval's top is at most 15 %, missed when its bottom is above;
    an interval holding 15 % decides nothing."""
    assert v2_cost_readme.budget_verdict(0.08, 0.15) == "within the budget"
    assert v2_cost_readme.budget_verdict(0.151, 0.2) == "NOT within the budget"
    assert v2_cost_readme.budget_verdict(0.12, 0.18).startswith("undecided")


def test_the_verdict_pools_only_runs_with_their_rounds() -> None:
    """The pooled line needs every tree's rounds; runs recorded without them give the per-run
    ranges alone."""
    lines = v2_cost_readme.verdict({"runs": [_paired([110, 112], [100, 100], [104, 104])]})
    (line,) = (line for line in lines if line.startswith("**Budget verdict**"))
    assert line.startswith("**Budget verdict**, pooled over the 2 paired rounds of these 1 runs")
    assert "**within the budget** of 15.0 %" in line


def test_the_verdict_shows_the_pooled_cost_of_each_commits_runs_beside_it() -> None:
    """Runs of two sittings (two v2 commits; uncommitted changes do not split a commit's
    runs) pooled apart too, in the order first measured, so a reader sees whether the
    verdict rests on one state of the host."""
    first = [_paired([110] * 4, [100] * 4, [105] * 4) for _ in range(2)]
    second = [_paired([125] * 4, [100] * 4, [105] * 4)]
    for run, commit in zip([*first, *second], ["aaa", "aaa+0123", "bbb"], strict=True):
        run["trees"]["v2-capped"]["tree"] = commit
    line = v2_cost_readme.verdict({"runs": [*first, *second]})[-1]
    assert line == (
        "The same cost by the commit v2's checkout was at (one sitting each): "
        "`aaa` 2 runs: 9.1 % (9.1 %–9.1 %); `bbb` 1 runs: 20.0 % (20.0 %–20.0 %)."
    )


def test_the_verdict_pools_only_the_runs_of_the_ledger_code_measured_last() -> None:
    """A change to the ledger starts a new set of runs: the verdict judges the code measured
    last; the earlier code's runs are pooled apart, with their own verdict, never mixed in."""
    before = [_paired([125] * 4, [100] * 4, [105] * 4) for _ in range(2)]
    after = [_paired([110] * 4, [100] * 4, [105] * 4)]
    for run, code in zip([*before, *after], ["old", "old", "new"], strict=True):
        run["trees"]["v2-capped"]["code"] = code
    lines = v2_cost_readme.verdict({"runs": [*before, *after]})
    assert lines[0].startswith("At batch 100, over the 1 runs of the ledger code measured last")
    (pooled,) = (line for line in lines if line.startswith("**Budget verdict**"))
    assert "of these 1 runs" in pooled
    assert "**9.1 %**" in pooled
    assert "**within the budget**" in pooled
    assert lines[-1] == (
        "Earlier ledger code, not in the verdict: `old` 2 runs: 20.0 % (20.0 %–20.0 %), "
        "NOT within the budget."
    )


def test_the_last_ledger_change_is_checked_in_the_same_runs() -> None:
    """The artefact's ``checks`` ran the code before the change as a fifth tree: both codes'
    costs against v1 with the same driver fixes, and what the change saved, from the same
    runs (two sittings' verdicts also differ by the host's state)."""
    check = _paired([110] * 4, [100] * 4, [105] * 4)
    check["trees"]["v2-capped-abc"] = {"us_per_event": 125, "round_us": [125] * 4, "code": "old"}
    (blank, line) = v2_cost_readme.change_check({"checks": [check]})
    assert blank == ""
    assert "(1 runs of the command with a fifth tree, `v2-capped-abc`" in line
    assert "the ledger code before it, `old`" in line
    assert "the code before it costs 20.0 % (20.0 %–20.0 %)" in line
    assert "the code measured last 9.1 % (9.1 %–9.1 %)" in line
    assert line.endswith("the change saves 12.0 % (12.0 %–12.0 %) of the earlier code's time.")
    assert v2_cost_readme.change_check({"runs": []}) == []


def test_a_failed_section_renders_as_not_available() -> None:
    """A run whose sections failed (empty documents) still renders, saying n/a where a
    figure is missing rather than inventing one."""
    block = report.render({}, {})
    assert block.startswith(report.BEGIN)
    assert block.endswith(report.END)
    assert "n/a" in block


def test_readme_at_scale_block_is_rendered_from_the_committed_scale_results() -> None:
    """Between the ``scale`` markers, the README holds what ``benchmarks.scale_readme``
    renders from ``benchmarks/scale.json`` (or says it was not measured yet), and the same
    benchmark on a ledger's server from ``benchmarks/scale-production.json``."""
    readme = report.README.read_text()
    block = scale_readme.render(
        report.load(report.SCALE), report.load(report.SCALE_PRODUCTION), scale_history.load()
    )
    assert scale_readme.current_block(readme) == block, "run `python -m benchmarks.report`"


def _scale_run() -> dict[str, Any]:
    """A scale document as ``benchmarks.scale`` assembles it before ``summarise``."""
    load = {"applied_events": 2_000_000, "window_events": 1_000_000, "seconds": 500.0}
    query = {"p50_ms": 1.5, "p99_ms": 7.25, "samples": 1000, "measured": "store"}
    return {
        "smoke": True,
        "runs": {
            "main": {
                "load": load | {"apply_rate_per_window": [4000, 3600]},
                "table_bytes": {"ledger_events": 1_200_000_000, "ledger_entries": 400_000_000},
                "verify": {"seconds": 100.0, "peak_rss_mb": 180.5, "clean": True},
                "query_latency_ms": {
                    "ledger_payment": query,
                    "ledger_explain_month": {"p50_ms": None, "p99_ms": None},
                    "ledger_history_limit_50": query,
                    "ledger_balances_account": query,
                },
            },
            "uniform": {"load": {"apply_rate_events_per_s": 2000}, "lock_waits": {}},
            "hot": {"load": {"apply_rate_events_per_s": 1500}, "lock_waits": {}},
        },
    }


def test_scale_summary_names_the_issue_numbers_and_judges_them() -> None:
    """Last over first million, bytes per event (all tables over applied events), the hot
    ratio and the 500 M extrapolation are computed from the runs; a query not measured
    reads as not measured, not as met."""
    summary = scale_report.summarise(_scale_run())
    assert summary["apply_rate_ratio_last_to_first"] == 0.9
    assert summary["bytes_per_event"] == 800
    assert summary["hot_account_rate_ratio"] == 0.75
    assert summary["targets"]["apply_rate_ratio_last_to_first"].startswith("met")
    assert summary["targets"]["ledger_explain_month_p99_ms"] == "not measured"
    assert summary["extrapolation_500m"]["total_gb"] == 400.0
    assert summary["extrapolation_500m"]["verify_hours_at_measured_rate"] == 6.9


def test_scale_block_shows_each_number_and_marks_a_smoke_run() -> None:
    """The rendered block carries the measured figures and says when the run was smaller
    than the issue's 5 M events."""
    block = scale_readme.render(scale_report.summarise(_scale_run()))
    assert "**smoke run**" in block
    for figure in ("4,000 → 3,600", "**0.900**", "800 B", "**180.5 MB**", "**7.25**", "**0.75**"):
        assert figure in block, figure


def test_a_verify_that_failed_measured_nothing() -> None:
    """A verify that ended without its verdict (an error, a timeout) gives no time, no
    memory and no extrapolation: its memory target reads as not measured, never met."""
    run = _scale_run()
    run["runs"]["main"]["verify"] = {
        "seconds": 2.0,
        "peak_rss_mb": 90.0,
        "clean": None,
        "error": "error: database schema is at 0004",
    }
    summary = scale_report.summarise(run)
    assert summary["verify_peak_rss_mb"] is None
    assert summary["targets"]["verify_peak_rss_mb"] == "not measured"
    assert summary["extrapolation_500m"]["verify_hours_at_measured_rate"] is None
    assert summary["verify_error"] == "error: database schema is at 0004"
