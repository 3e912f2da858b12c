"""Operator conventions (issue 14 item 6): global options anywhere, profiles with their
region, tables that fit 80 columns without cutting ids, progress only on a terminal."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from infra.settings import DEFAULT_REGION, Config
from ops import progress
from ops.cli import hoist_global_options
from ops.tables import Column, emit_table


def test_global_options_after_the_sub_command_move_in_front() -> None:
    """``points dlq show --profile prod --json`` reads as ``points --profile prod dlq …``."""
    assert hoist_global_options(["dlq", "show", "--profile", "prod", "--json"]) == [
        "--profile",
        "prod",
        "dlq",
        "show",
        "--json",
    ]
    assert hoist_global_options(["audit", "--region=eu-west-1"]) == ["--region=eu-west-1", "audit"]


def test_nothing_after_a_double_dash_moves() -> None:
    """``--`` ends option processing: a value that looks like an option stays put."""
    argv = ["dlq", "redrive", "--", "--region"]
    assert hoist_global_options(argv) == argv


@pytest.fixture
def aws_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An ~/.aws/config with a ``prod`` profile in eu-west-1, and no region variables."""
    path = tmp_path / "config"
    path.write_text("[profile prod]\nregion = eu-west-1\n[default]\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(path))
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.mark.usefixtures("aws_config_file")
def test_a_profile_brings_its_region() -> None:
    """``--profile prod``: the region is the profile's (boto3's resolution), not a default."""
    config = Config.resolve(profile="prod")
    assert (config.aws.profile, config.aws.region) == ("prod", "eu-west-1")


@pytest.mark.usefixtures("aws_config_file")
def test_aws_profile_variable_counts_like_the_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    """``AWS_PROFILE=prod`` does what ``--profile prod`` does."""
    monkeypatch.setenv("AWS_PROFILE", "prod")
    assert Config.resolve().aws.region == "eu-west-1"


@pytest.mark.usefixtures("aws_config_file")
def test_an_explicit_region_beats_the_profiles(monkeypatch: pytest.MonkeyPatch) -> None:
    """Flag > AWS_REGION > the profile's region > the built-in default."""
    assert Config.resolve(profile="prod", region="us-east-2").aws.region == "us-east-2"
    monkeypatch.setenv("AWS_REGION", "ap-southeast-2")
    assert Config.resolve(profile="prod").aws.region == "ap-southeast-2"
    monkeypatch.delenv("AWS_REGION")
    assert Config.resolve().aws.region == DEFAULT_REGION


UUID = "0b6b2f43-6f1e-4d2b-9d5c-0c0c5e9f4a11"


def _render(columns: list[Column], rows: list[list[str]], *, wide: bool = False) -> str:
    output = io.StringIO()
    console = Console(file=output, width=80, force_terminal=True, color_system=None)
    emit_table("t", columns, rows, wide=wide, out=console)
    return output.getvalue()


def test_tables_fit_80_columns_and_never_cut_an_id() -> None:
    """Two 36-character ids and a long error: every line ≤ 80 characters, both ids whole
    on one line (the error folds instead)."""
    text = _render(
        [Column("message_id", is_id=True), Column("event_id", is_id=True), Column("error")],
        [[UUID, UUID.replace("0", "1"), "idempotency_conflict: " + "x" * 120]],
    )
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any(UUID in line for line in lines)
    assert any(UUID.replace("0", "1") in line for line in lines)


def test_wide_columns_appear_only_with_wide() -> None:
    """``--wide`` adds the columns marked wide."""
    columns = [Column("id", is_id=True), Column("payment_id", is_id=True, wide=True)]
    assert "pay-77" not in _render(columns, [["1", "pay-77"]])
    assert "pay-77" in _render(columns, [["1", "pay-77"]], wide=True)


def test_piped_tables_are_tsv_with_every_column(capsys: pytest.CaptureFixture[str]) -> None:
    """Not a terminal: a header line and tab-separated rows, wide columns included."""
    columns = [Column("id", is_id=True), Column("note"), Column("payment_id", wide=True)]
    emit_table("t", columns, [["1", "two\twords\nand a line", "pay-77"]])
    assert capsys.readouterr().out == "id\tnote\tpayment_id\n1\ttwo words and a line\tpay-77\n"


def test_progress_bars_only_on_a_terminal_and_beyond_a_screenful() -> None:
    """A bar for more lines than the terminal has; never when stderr is not a terminal."""
    terminal = Console(file=io.StringIO(), force_terminal=True, height=24)
    piped = Console(file=io.StringIO(), force_terminal=False, height=24)
    assert progress.wanted(25, terminal)
    assert not progress.wanted(20, terminal)
    assert not progress.wanted(20_000, piped)
