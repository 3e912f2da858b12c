"""Operator conventions on the real console script (issue 14 item 6)."""

from __future__ import annotations

import json
import os
import pty
import socket
import subprocess
from pathlib import Path

import pytest

from infra.aws import sqs_client
from infra.local import EmbeddedAws
from infra.settings import Config
from tests.support.cli import POINTS, run_points
from tests.support.dlq import (  # noqa: F401 (pytest fixtures)
    aws_fixture,
    counts,
    dead_letter_like_worker,
    event_body,
    ops_db_fixture,
    topo_fixture,
)

pytestmark = pytest.mark.moto


def test_global_options_work_after_the_sub_command(aws: Config, moto_server: EmbeddedAws) -> None:
    """``points dlq list --json --endpoint-url URL``: the flag after the sub-command wins over
    a wrong ``AWS_ENDPOINT_URL``, as it would before it."""
    wrong = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    result = run_points(
        "dlq", "list", "--json", "--endpoint-url", moto_server.endpoint_url, env=wrong
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["queue"] == "points-dlq"


def test_piped_tables_come_out_as_tsv(aws: Config) -> None:
    """Captured stdout is not a terminal: ``dlq list`` prints a TSV header and rows."""
    lines = run_points("dlq", "list").stdout.splitlines()
    assert lines[0].split("\t") == [
        "queue",
        "source",
        "kind",
        "depth",
        "in flight",
        "oldest",
        "url",
    ]
    assert lines[1].startswith("points-dlq\tpoints\tqueue\t0\t0\t-\t")


def test_an_unknown_profile_is_one_line(tmp_path: Path) -> None:
    """``AWS_PROFILE=nope``: one line naming the profile, exit 2, no traceback."""
    config = tmp_path / "config"
    config.write_text("[default]\n")
    result = run_points("dlq", "list", env={"AWS_PROFILE": "nope", "AWS_CONFIG_FILE": str(config)})
    assert result.returncode == 2
    assert result.stderr == "error: AWS profile 'nope' is not configured\n"


def test_local_on_a_taken_port_is_one_line() -> None:
    """``points local --port P`` with P taken: one line naming the port, exit 2."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_points("local", "--port", str(port), timeout=30)
    assert result.returncode == 2
    assert result.stderr == (
        f"error: port {port} on 127.0.0.1 is already in use; choose another with --port\n"
    )


def test_outbox_ddl_has_json() -> None:
    """``points outbox ddl --json``: the dialect and its statements, for tools."""
    result = run_points("outbox", "ddl", "--dialect", "sqlite", "--json")
    document = json.loads(result.stdout)
    assert document["dialect"] == "sqlite"
    assert document["statements"][0].startswith("CREATE TABLE points_outbox")


def _on_a_terminal(args: list[str], answer: str) -> subprocess.CompletedProcess[str]:
    """Run ``points ARGS`` with a terminal as stdin, typing ``answer`` at the prompt."""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [str(POINTS), *args],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.write(controller, f"{answer}\n".encode())
        out, err = process.communicate(timeout=60)
    finally:
        os.close(terminal)
        os.close(controller)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_a_whole_queue_redrive_asks_on_a_terminal(aws: Config) -> None:
    """Unfiltered redrive on a terminal: a wrong answer does nothing (exit 2), typing the
    DLQ's name goes ahead."""
    sqs = sqs_client(aws.aws)
    dlq_url = sqs.get_queue_url(QueueName="points-dlq")["QueueUrl"]
    for i in range(3):
        dead_letter_like_worker(sqs, dlq_url, event_body(f"t{i}"))
    refused = _on_a_terminal(["dlq", "redrive", "--reason", "r"], "yes please")
    assert refused.returncode == 2
    assert "not confirmed; nothing was done" in refused.stderr
    assert counts(sqs, dlq_url) == (3, 0)
    confirmed = _on_a_terminal(["dlq", "redrive", "--reason", "r", "--json"], "points-dlq")
    assert confirmed.returncode == 0, confirmed.stderr
    assert json.loads(confirmed.stdout)["moved"] == 3  # the question went to stderr
