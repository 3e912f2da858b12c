"""Hostile input end to end: ~100 bodies through moto SQS into a ``points worker`` process
on PostgreSQL. SQS only carries XML characters, so the sample is what SQS accepts; the
rest is covered in-process (``test_bad_input.py``)."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from consumers.db import make_engine, upgrade
from consumers.journal import failures
from consumers.runtime.deadletter import read_failure
from consumers.runtime.transport import decode_attributes, encode_attributes
from infra.apply import apply_topology
from infra.aws import sns_client, sqs_client
from infra.resolve import topology
from infra.settings import Config
from tests.chaos.hostile import APPLY, Hostile, expectation, hostile_bodies, sqs_safe
from tests.chaos.support import WorkerPool, read_all
from tests.support import reference
from tests.support.factories import event_dict
from tests.support.ledger_kit import ledger_state

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.moto, pytest.mark.timeout(300)]

TAG = "chaos.n"
SAMPLE = 100


def _postgres_only() -> list[Hostile]:
    """Valid by the contract, refused by PostgreSQL (NUL in text): ``unapplicable_event``."""
    out = []
    for n, name in enumerate(["event_id", "account_id", "payment_id"]):
        document = event_dict(event_id=f"nul-{n}", payment_id=f"nul-p{n}")
        document[name] = f"{document[name]}\u0000x"
        out.append(
            Hostile("nul_on_postgres", json.dumps(document), frozenset({"unapplicable_event"}))
        )
    return out


def test_a_hostile_sample_through_moto_lands_in_the_dlq_with_reasons(
    aws: Config, postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The worker drains and exits 0; each reject is in the DLQ with its reason (and
    journaled), each valid body is applied once, the ledger is the reference model's.

    The worker runs one poller. moto's ReceiveMessage checks a message's visibility and
    marks it received without a lock, so two pollers' concurrent receives now and then
    both get it (about one run in eight); and its response reads the receive count and
    receipt handle only after both marks, so both copies can say "receive count 2" with
    the same handle (CI, stop 24) and nothing tells them from a worker copying one
    delivery twice. With one poller the worker never races itself, and a reject that is
    in the DLQ twice (its visibility lapsed) still shows one SQS message with a distinct
    receive count per copy, which the worker writes on every copy."""
    pool_of_safe = [i for i in hostile_bodies() if sqs_safe(i)]
    items = random.Random(9).sample(pool_of_safe, SAMPLE - 3) + _postgres_only()
    applied_topology = apply_topology(topology(aws), sns_client(aws.aws), sqs_client(aws.aws))
    queue = applied_topology.queues["points"]
    sqs = sqs_client(aws.aws)
    for n, item in enumerate(items):
        attributes: Any = encode_attributes({**item.attributes, TAG: ("Number", str(n))})
        sqs.send_message(QueueUrl=queue.url, MessageBody=item.body, MessageAttributes=attributes)
    upgrade(make_engine(postgres_url))
    logs = tmp_path / "logs"
    logs.mkdir()
    pool = WorkerPool(
        postgres_url, logs, extra_args=("--drain",), env={"POINTS_WORKER_CONCURRENCY": "1"}
    )
    try:
        pool.start(0)
        assert pool.processes[0].wait(timeout=240) == 0
    finally:
        pool.kill_all()

    got: dict[int, list[str]] = {}
    deliveries: dict[int, list[tuple[str, int]]] = {}
    for message in read_all(sqs, queue.dlq_url):
        attributes = decode_attributes(message.get("MessageAttributes", {}))
        info = read_failure(attributes)
        tag = int(attributes[TAG][1])
        got.setdefault(tag, []).append(info.error_type if info else "native")
        if info is not None:
            deliveries.setdefault(tag, []).append((info.message_id, info.receive_count))
    applied: list[dict[str, Any]] = []
    problems = []
    for n, item in enumerate(items):
        allowed, event = expectation(item)
        if event is not None:
            applied.append(event)
            allowed = APPLY
        outcome = got.get(n, ["applied"])
        if not _one_message_delivered_once_each(deliveries.get(n, [])) or any(
            reason not in allowed for reason in outcome
        ):
            problems.append(
                f"#{n} {item.category}: expected {sorted(allowed)}, got {outcome} "
                f"from deliveries {deliveries.get(n)}"
            )
    assert not problems, "\n".join(problems)

    engine = make_engine(postgres_url)
    payments, balances = ledger_state(engine)
    assert (payments, balances) == reference.ledger_state(applied)
    with engine.connect() as connection:
        journaled = connection.execute(
            sa.select(sa.func.count()).select_from(failures).where(failures.c.permanent)
        ).scalar_one()
    assert journaled == sum(len(v) for v in got.values())
    engine.dispose()
    by_reason = Counter(reason for reasons in got.values() for reason in reasons)
    with capsys.disabled():
        print(
            f"\n[bad input, moto] {len(items)} bodies through SQS into a worker on PostgreSQL: "
            f"{len(applied)} applied, dead-lettered by reason {dict(sorted(by_reason.items()))}"
        )


def _one_message_delivered_once_each(copies: list[tuple[str, int]]) -> bool:
    """DLQ copies (source message id, receive count) of one sent body: one SQS message,
    copied at most once per delivery."""
    message_ids = {message_id for message_id, _ in copies}
    receives = [count for _, count in copies]
    return len(message_ids) <= 1 and len(set(receives)) == len(receives)
