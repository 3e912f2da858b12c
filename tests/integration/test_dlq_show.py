"""``dlq list`` and ``dlq show`` on a real moto server: reasons, grouping, no consumption."""

from __future__ import annotations

from pathlib import Path

from consumers.db import make_engine, upgrade
from consumers.journal import Failure, record_failures
from infra.apply import ApplyResult
from infra.aws import sqs_client
from infra.settings import Config
from ops.dlq import group, list_dlqs, show
from tests.support.dlq import (  # noqa: F401 (pytest fixtures)
    FAST,
    aws_fixture,
    counts,
    dead_letter_like_worker,
    dead_letter_natively,
    event_body,
    ops_db_fixture,
    topo_fixture,
)


def _with_db(config: Config, database_url: str) -> Config:
    return Config.resolve(
        endpoint_url=config.aws.endpoint_url, region=config.aws.region, database_url=database_url
    )


def test_worker_dead_letters_show_the_attached_reason(aws: Config, topo: ApplyResult) -> None:
    """A message the worker dead-lettered shows its event fields and the reason it carries."""
    dlq_url = topo.queues["points"].dlq_url
    sqs = sqs_client(aws.aws)
    message_id = dead_letter_like_worker(
        sqs,
        dlq_url,
        event_body("evt-7", payment_id="pay-7"),
        error_type="payment_conflict",
        error_message="payment pay-7 belongs to acct-1, event says acct-2",
        receive_count=2,
    )
    (shown,) = show(aws, "points", options=FAST)
    assert list(shown.as_json()) == [
        "message_id",
        "event_id",
        "event_type",
        "payment_id",
        "receive_count",
        "error",
    ]
    assert (shown.message_id, shown.event_id, shown.event_type, shown.payment_id) == (
        message_id,
        "evt-7",
        "authorization",
        "pay-7",
    )
    assert shown.receive_count == 2
    assert shown.error == "payment_conflict: payment pay-7 belongs to acct-1, event says acct-2"
    assert shown.error_source == "attributes"


def test_native_dead_letter_is_explained_by_the_journal(
    aws: Config, topo: ApplyResult, sqlite_url: str
) -> None:
    """SQS moved it without a reason; the journal row (by message id) explains it."""
    outputs = topo.queues["points"]
    sqs = sqs_client(aws.aws)
    engine = make_engine(sqlite_url)
    upgrade(engine)
    message_id = dead_letter_natively(sqs, outputs.url, outputs.dlq_url, event_body("evt-n"))
    record_failures(
        engine,
        [
            Failure(
                queue="points",
                message_id=message_id,
                error_type="database_unavailable",
                error_message="connection refused",
                permanent=False,
                attempts=5,
                event_id="evt-n",
            )
        ],
    )
    engine.dispose()
    (shown,) = show(_with_db(aws, sqlite_url), "points", options=FAST)
    assert shown.message_id == message_id
    assert shown.error == "database_unavailable: connection refused"
    assert shown.error_source == "journal"
    assert shown.receive_count == 5


def test_native_dead_letter_without_a_database_is_unknown(
    aws: Config, topo: ApplyResult, tmp_path: Path
) -> None:
    """No consumer database on the operator's machine: reason "unknown", and no file created."""
    outputs = topo.queues["points"]
    dead_letter_natively(sqs_client(aws.aws), outputs.url, outputs.dlq_url, event_body("evt-u"))
    missing = tmp_path / "absent.sqlite3"
    (shown,) = show(_with_db(aws, f"sqlite:///{missing}"), "points", options=FAST)
    assert shown.error == "unknown"
    assert shown.event_id == "evt-u"
    assert not missing.exists()


def test_unmigrated_database_gives_unknown_not_an_error(
    aws: Config, topo: ApplyResult, sqlite_url: str
) -> None:
    """An existing but empty database (no journal table) is not an error either."""
    outputs = topo.queues["points"]
    dead_letter_natively(sqs_client(aws.aws), outputs.url, outputs.dlq_url, event_body("evt-e"))
    make_engine(sqlite_url).connect().close()
    (shown,) = show(_with_db(aws, sqlite_url), "points", options=FAST)
    assert shown.error == "unknown"


def test_show_consumes_nothing(aws: Config, topo: ApplyResult) -> None:
    """After show, every message is visible again at once and a second show sees the same."""
    dlq_url = topo.queues["points"].dlq_url
    sqs = sqs_client(aws.aws)
    for n in range(12):
        dead_letter_like_worker(sqs, dlq_url, event_body(f"evt-{n}"))
    first = {m.message_id for m in show(aws, "points", options=FAST)}
    assert counts(sqs, dlq_url) == (12, 0)
    second = {m.message_id for m in show(aws, "points", options=FAST)}
    assert len(first) == 12
    assert first == second


def test_limit_shows_at_most_n_and_releases_the_rest(aws: Config, topo: ApplyResult) -> None:
    """--limit 3 of 8: three shown, all eight visible afterwards."""
    dlq_url = topo.queues["points"].dlq_url
    sqs = sqs_client(aws.aws)
    for n in range(8):
        dead_letter_like_worker(sqs, dlq_url, event_body(f"evt-{n}"))
    assert len(show(aws, "points", limit=3, options=FAST)) == 3
    assert counts(sqs, dlq_url) == (8, 0)


def test_undecodable_body_is_shown_as_such(aws: Config, topo: ApplyResult) -> None:
    """A body that is not JSON has no event fields and says it is undecodable."""
    dlq_url = topo.queues["points"].dlq_url
    dead_letter_like_worker(
        sqs_client(aws.aws),
        dlq_url,
        "\x01not json",
        error_type="invalid_body",
        error_message="body is not JSON: Expecting value at line 1 column 1",
    )
    (shown,) = show(aws, "points", options=FAST)
    assert shown.event_id is None
    assert not shown.decodable
    assert shown.decode_error is not None
    assert shown.decode_error.startswith("invalid_body")
    assert shown.error_type == "invalid_body"


def test_group_counts_messages_by_error_fingerprint(aws: Config, topo: ApplyResult) -> None:
    """Conflicts about different event ids are one group; another cause is another group."""
    dlq_url = topo.queues["points"].dlq_url
    sqs = sqs_client(aws.aws)
    for n in range(3):
        dead_letter_like_worker(
            sqs,
            dlq_url,
            event_body(f"evt-{n}"),
            error_type="idempotency_conflict",
            error_message=f"event_id 'evt-{n}' seen before with different content (amount {n}00)",
        )
    dead_letter_like_worker(sqs, dlq_url, event_body("evt-x"), error_type="invalid_event")
    groups = group(show(aws, "points", options=FAST))
    assert [(g.error_type, g.count) for g in groups] == [
        ("idempotency_conflict", 3),
        ("invalid_event", 1),
    ]
    assert groups[0].fingerprint == (
        "idempotency_conflict: event_id <v> seen before with different content (amount <n>)"
    )


def test_list_shows_every_dlq_with_depth_and_oldest_age(aws: Config, topo: ApplyResult) -> None:
    """Queue DLQs and SNS delivery DLQs are all listed; depths and oldest age are right."""
    dlq_url = topo.queues["points"].dlq_url
    sqs = sqs_client(aws.aws)
    for n in range(3):
        dead_letter_like_worker(sqs, dlq_url, event_body(f"evt-{n}"))
    statuses = {s.dlq.name: s for s in list_dlqs(aws, FAST)}
    assert set(statuses) == {
        "points-dlq",
        "points-delivery-dlq",
        "notifications-dlq",
        "notifications-delivery-dlq",
    }
    points = statuses["points-dlq"]
    assert (points.depth, points.in_flight) == (3, 0)
    assert points.oldest_age_seconds is not None
    assert 0 <= points.oldest_age_seconds < 60
    assert points.oldest_exact
    assert statuses["notifications-dlq"].depth == 0
    assert statuses["notifications-dlq"].oldest_age_seconds is None
    assert counts(sqs, dlq_url) == (3, 0)
