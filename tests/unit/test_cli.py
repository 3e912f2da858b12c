"""The root of the ``points`` command."""

from __future__ import annotations

from ops.cli import invoked_command


def test_cli_names_the_invoked_command_past_root_options() -> None:
    """Only the invoked command is loaded; root options and their values are skipped."""
    assert invoked_command(["--database-url", "sqlite://", "worker", "--healthcheck"]) == "worker"
    assert invoked_command(["--region=ap-northeast-1", "ledger", "balances"]) == "ledger"


def test_cli_loads_everything_for_help_and_unknown_commands() -> None:
    """Root help and a mistyped command see every command (Typer lists them)."""
    assert invoked_command(["--help"]) is None
    assert invoked_command(["unknown"]) is None
