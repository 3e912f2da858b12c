"""Publishing from any service: what reaches the ledger when producers are not our Python.

Real moto server, the declared topology, the real ``points worker --drain`` on SQLite.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from infra.settings import Config
from producers import publish
from producers.publish import publish_event, publish_event_async
from producers.publisher import PublishError
from schemas.events import Authorization, Clearing
from tests.support.factories import event_dict
from tests.support.pipeline import aws_cli_env, deploy, drain, payment, publish_raw, queue_bodies

pytestmark = pytest.mark.moto


@pytest.fixture(autouse=True)
def _fresh_default_publisher() -> None:
    """``publish_event`` resolves its settings once per process; each test has its own AWS."""
    publish._resolved.cache_clear()
    publish.default_publisher.cache_clear()


def test_an_event_without_message_attributes_is_routed_by_its_body_and_applied(
    aws: Config, sqlite_url: str, tmp_path: Path
) -> None:
    """Subscriptions filter on the body: an attribute-less authorization reaches both queues
    (and is applied), an attribute-less refund only the points queue."""
    applied = deploy(aws, sqlite_url)
    publish_raw(aws, applied.topic_arn, json.dumps(event_dict("authorization", event_id="a-1")))
    publish_raw(
        aws, applied.topic_arn, json.dumps(event_dict("refund", event_id="r-1", amount=200))
    )
    notified = queue_bodies(aws, applied.queues["notifications"].url)
    assert [body["event_id"] for body in notified] == ["a-1"]
    assert drain(sqlite_url, tmp_path) == {"applied": 2}
    shown = payment(sqlite_url, "pay-1")
    assert (shown["authorized"], shown["refunded"]) == (1200, 200)


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not installed")
def test_the_aws_cli_publishing_without_attributes_reaches_the_ledger(
    aws: Config, sqlite_url: str, tmp_path: Path
) -> None:
    """``aws sns publish --message file://event.json``, no attributes: the event is applied."""
    applied = deploy(aws, sqlite_url)
    event = tmp_path / "event.json"
    event.write_text(json.dumps(event_dict("authorization", event_id="cli-1")), encoding="utf-8")
    published = subprocess.run(
        ["aws", "sns", "publish", "--topic-arn", applied.topic_arn, "--message", f"file://{event}"],
        env=aws_cli_env(aws),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert published.returncode == 0, published.stderr
    assert drain(sqlite_url, tmp_path) == {"applied": 1}
    assert payment(sqlite_url, "pay-1")["authorized"] == 1200


SPELLINGS = [
    "2026-11-21T10:00:00+09:00",
    "2026-11-21T01:00:00Z",
    "2026-11-20T20:00:00-05:00",
    "2026-11-21T01:00:00.000Z",
    "2026-11-21T10:00:00.000000+09:00",
    "2026-11-20T20:00:00.000000000-05:00",
]


def test_one_event_in_three_offsets_and_with_trailing_zeros_is_applied_once(
    aws: Config, sqlite_url: str, tmp_path: Path
) -> None:
    """The same authorization spelled in three offsets, with and without zero fractions: one
    is applied, the other five are duplicates, none is an idempotency conflict."""
    applied = deploy(aws, sqlite_url)
    for spelling in SPELLINGS:
        body = event_dict("authorization", event_id="same-1", occurred_at=spelling)
        publish_raw(aws, applied.topic_arn, json.dumps(body))
    assert drain(sqlite_url, tmp_path) == {"applied": 1, "duplicate": 5}
    assert queue_bodies(aws, applied.queues["points"].dlq_url) == []
    assert payment(sqlite_url, "pay-1")["authorized"] == 1200


def _authorization(event_id: str) -> Authorization:
    return Authorization(
        event_id=event_id,
        occurred_at="2026-11-21T10:00:00+09:00",  # type: ignore[arg-type]
        brand="visa",  # type: ignore[arg-type]
        payment_id="pay-1",
        account_id="acct-1",
        amount=1200,
        currency="JPY",
        merchant={"name": "LAWSON", "mcc": "5411", "country": "JP"},  # type: ignore[arg-type]
    )


def test_publish_event_finds_the_topic_by_name_and_the_worker_applies_it(
    aws: Config, sqlite_url: str, tmp_path: Path
) -> None:
    """``publish_event(event)`` and ``await publish_event_async(event)``, with plain strings for
    enums and no topic ARN anywhere: both events are applied."""
    deploy(aws, sqlite_url)
    publish_event(_authorization("py-sync"))
    fields = _authorization("py-async").model_dump(exclude={"event_type", "approved"})
    clearing = Clearing(**fields, final=True)
    asyncio.run(publish_event_async(clearing))
    assert drain(sqlite_url, tmp_path) == {"applied": 2}
    shown = payment(sqlite_url, "pay-1")
    assert (shown["authorized"], shown["cleared"], shown["final"]) == (1200, 1200, True)


def test_publish_event_uses_points_topic_arn_when_set(
    aws: Config, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``POINTS_TOPIC_ARN`` wins over the name: a wrong one is refused, not guessed around."""
    deploy(aws, sqlite_url)
    monkeypatch.setenv("POINTS_TOPIC_ARN", "arn:aws:sns:ap-northeast-1:123456789012:elsewhere")
    with pytest.raises(PublishError):
        publish_event(event_dict("authorization"))


TYPESCRIPT = Path(__file__).resolve().parents[2] / "examples" / "typescript-producer"


def test_the_typescript_producers_events_are_applied(
    aws: Config, sqlite_url: str, tmp_path: Path
) -> None:
    """examples/typescript-producer (AWS SDK for JavaScript v3 + ajv on the committed schema),
    compiled with tsc and run against moto: the worker applies both of its events."""
    if not (TYPESCRIPT / "node_modules").is_dir():
        pytest.fail(f"run `npm ci --prefix {TYPESCRIPT}` (make test does it)")
    applied = deploy(aws, sqlite_url)
    node = {"cwd": TYPESCRIPT, "capture_output": True, "text": True, "timeout": 180}
    built = subprocess.run(["npx", "--no-install", "tsc", "-p", "."], check=False, **node)  # type: ignore[call-overload]
    assert built.returncode == 0, built.stdout + built.stderr
    env = {**aws_cli_env(aws), "POINTS_TOPIC_ARN": applied.topic_arn}
    ran = subprocess.run(["node", "dist/main.js", "pay-ts"], env=env, check=False, **node)  # type: ignore[call-overload]
    assert ran.returncode == 0, ran.stderr
    assert drain(sqlite_url, tmp_path) == {"applied": 2}
    shown = payment(sqlite_url, "pay-ts")
    assert (shown["authorized"], shown["cleared"], shown["final"]) == (1200, 1200, True)


def test_the_readme_snippet_publishes_in_at_most_eight_lines(aws: Config, sqlite_url: str) -> None:
    """README "Publishing from your service": the Python block, run as written, publishes an
    event that reaches the points queue."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Publishing from your service", 1)[1]
    snippet = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert len(snippet.strip().splitlines()) <= 8
    applied = deploy(aws, sqlite_url)
    exec(compile(snippet, "README.md", "exec"), {})  # noqa: S102 - our own README
    (delivered,) = queue_bodies(aws, applied.queues["points"].url)
    assert delivered["event_id"] == "visa-auth-8f3a"


def test_the_readme_grant_snippet_publishes_a_points_grant(aws: Config, sqlite_url: str) -> None:
    """README "Publishing from your service": the second Python block, run as written,
    publishes a referral grant that reaches the points queue."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Publishing from your service", 1)[1]
    snippet = section.split("```python\n", 2)[2].split("```", 1)[0]
    applied = deploy(aws, sqlite_url)
    exec(compile(snippet, "README.md", "exec"), {})  # noqa: S102 - our own README
    (delivered,) = queue_bodies(aws, applied.queues["points"].url)
    assert (delivered["event_type"], delivered["points"]) == ("points_grant", 500)
