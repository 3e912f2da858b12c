"""A private PostgreSQL server configured as a ledger's would be, for ``make bench-scale``.

This machine's shared server is configured for test suites (``shared_buffers`` 128 MB,
PostgreSQL's default, and autovacuum off: ``/etc/postgresql/15/main/conf.d/90-ci.conf``).
A server holding a ledger of millions of events in service runs autovacuum and gives its
buffer cache a quarter of the machine's memory (the PostgreSQL manual's starting point for
``shared_buffers`` on a dedicated server). ``python -m benchmarks.scale_server start``
creates one in a directory of its own, on a port of its own, and prints its URL for
``benchmarks.scale --server``; ``stop`` stops it and removes the directory. Everything
else is PostgreSQL's default, as on the shared server.

``make bench-scale-production`` runs the scale benchmark on it and writes
``benchmarks/scale-production.json`` (the README shows it beside ``scale.json``).
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import psutil

DEFAULT_DIRECTORY: Final = Path("/tmp/points-bench-postgres")
DEFAULT_PORT: Final = 5433
#: initdb refuses to run as root; the server then runs as this user.
SERVER_USER: Final = "postgres"


def bindir() -> Path:
    """Where ``initdb`` and ``pg_ctl`` are: ``pg_config --bindir``, else the PATH."""
    if shutil.which("pg_config"):
        done = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidate = Path(done.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    for versions in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (versions / "initdb").exists():
            return versions
    found = shutil.which("initdb")
    if found is None:
        raise SystemExit("initdb not found: install PostgreSQL's server binaries")
    return Path(found).parent


def quarter_of_memory_mb() -> int:
    return int(psutil.virtual_memory().total) // 2**20 // 4


def _run(command: Sequence[str]) -> None:
    """Run as ourselves, or as ``SERVER_USER`` when we are root; its output to stderr
    (stdout carries the URL alone)."""
    if os.geteuid() == 0:
        command = ["runuser", "-u", SERVER_USER, "--", *command]
    subprocess.run(command, check=True, stdout=sys.stderr)


def start(directory: Path, port: int) -> str:
    data = directory / "data"
    if not data.exists():
        directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            entry = pwd.getpwnam(SERVER_USER)
            os.chown(directory, entry.pw_uid, entry.pw_gid)
        _run([str(bindir() / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"])
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(port),
            "unix_socket_directories": f"'{directory}'",
            "shared_buffers": f"{quarter_of_memory_mb()}MB",
            "autovacuum": "on",
        }
        with (data / "postgresql.conf").open("a") as conf:
            conf.write("\n# benchmarks.scale_server: a ledger server's settings\n")
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
    log = directory / "server.log"
    _run([str(bindir() / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "start"])
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"


def stop(directory: Path) -> None:
    data = directory / "data"
    if data.exists():
        _run([str(bindir() / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
    shutil.rmtree(directory, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale_server", description=__doc__)
    parser.add_argument("action", choices=("start", "stop"))
    parser.add_argument("--directory", type=Path, default=DEFAULT_DIRECTORY)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    try:
        if args.action == "start":
            print(start(args.directory, args.port))
        else:
            stop(args.directory)
    except subprocess.CalledProcessError as error:
        print(f"scale_server {args.action} failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
