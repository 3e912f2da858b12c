"""``points rules publish | list | show`` as operators run them (DESIGN §4.6, §6)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.settings import Config
from tests.support.cli import run_points

FUTURE = """{"versions": [{"effective_from": "2099-01-01T00:00:00+09:00",
  "rates_bp": {"visa": 150, "quicpay": 50}, "monthly_cap_points": 1200,
  "campaigns": [{"id": "new-year", "starts_at": "2099-01-01T00:00:00+09:00",
                 "ends_at": "2099-01-08T00:00:00+09:00", "bonus_bp": 100}]}]}"""


@pytest.fixture
def env(aws: Config, sqlite_url: str, tmp_path: Path) -> dict[str, str]:
    """moto for the operator's identity, a migrated SQLite ledger."""
    environment = {"POINTS_DATABASE_URL": sqlite_url}
    assert run_points("db", "upgrade", env=environment).returncode == 0
    (tmp_path / "future.json").write_text(FUTURE)
    return environment


def points_json(*args: str, env: dict[str, str]) -> object:
    done = run_points(*args, "--json", env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_publish_then_list_and_show_the_version(env: dict[str, str], tmp_path: Path) -> None:
    """A future-dated version is published, listed with its reason, shown at an instant
    after it, and recorded in the operator audit."""
    rules = str(tmp_path / "future.json")
    published = points_json("rules", "publish", rules, "--reason", "new year", env=env)
    listed = points_json("rules", "list", env=env)
    shown = points_json("rules", "show", "--at", "2099-01-02T00:00:00Z", env=env)
    audit = points_json("audit", env=env)
    assert published["added"] == 1  # type: ignore[index]
    assert [(v["effective_from"], v["reason"]) for v in listed] == [  # type: ignore[attr-defined]
        ("2098-12-31T15:00:00Z", "new year")
    ]
    assert shown["version"]["campaigns"][0]["id"] == "new-year"  # type: ignore[index]
    assert [(a["command"], a["reason"]) for a in audit] == [  # type: ignore[attr-defined]
        ("rules publish", "new year")
    ]


def test_publishing_the_same_file_twice_adds_nothing(env: dict[str, str], tmp_path: Path) -> None:
    """The second publication is a no-op: nothing added, the revision unchanged."""
    rules = str(tmp_path / "future.json")
    first = points_json("rules", "publish", rules, "--reason", "r", env=env)
    second = points_json("rules", "publish", rules, "--reason", "r", env=env)
    assert (second["added"], second["unchanged"]) == (0, 1)  # type: ignore[index]
    assert second["revision"] == first["revision"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ('{"versions": [{"rates_bp": {"visa": 1}}]}', "lacks rates for ['quicpay']"),
        (
            '{"versions": [{"effective_from": "2020-01-01T00:00:00Z",'
            ' "rates_bp": {"visa": 1, "quicpay": 1}}]}',
            "publish it with --backdate",
        ),
    ],
    ids=["invalid", "backdated"],
)
def test_a_refused_publication_is_one_line(
    env: dict[str, str], tmp_path: Path, document: str, message: str
) -> None:
    """An invalid file or a backdated version without --backdate: one line, exit 2."""
    path = tmp_path / "rules.json"
    path.write_text(document)
    done = run_points("rules", "publish", str(path), "--reason", "r", env=env)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert points_json("rules", "list", env=env) == []


def test_backdate_publishes_a_version_in_the_past(env: dict[str, str], tmp_path: Path) -> None:
    """With --backdate a version taking effect in the past is published (and listed as
    backdated); an empty ledger has nothing to recompute."""
    path = tmp_path / "past.json"
    path.write_text(
        '{"versions": [{"effective_from": "2020-01-01T00:00:00Z",'
        ' "rates_bp": {"visa": 1, "quicpay": 1}}]}'
    )
    published = points_json(
        "rules", "publish", str(path), "--backdate", "--reason", "INC-7", env=env
    )
    listed = points_json("rules", "list", env=env)
    assert (published["added"], published["backdated"]) == (1, 1)  # type: ignore[index]
    assert [v["backdated"] for v in listed] == [True]  # type: ignore[attr-defined]
