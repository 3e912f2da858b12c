"""``record()`` inside a payment service's own ORM session and transaction (SQLite)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from producers.outbox import create_outbox_table, outbox_ddl, outbox_table, record
from schemas.envelope import decode_body
from tests.support.factories import make_event


class Base(DeclarativeBase):
    pass


class Payment(Base):
    """A payment service's own model, in its own metadata."""

    __tablename__ = "payments"
    payment_id: Mapped[str] = mapped_column(primary_key=True)
    amount: Mapped[int]


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{tmp_path}/service.sqlite3")
    Base.metadata.create_all(engine)
    create_outbox_table(engine)
    return engine


def _rows(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(outbox_table.c.body)).scalars())


def _pay_then_fail(engine: sa.Engine) -> None:
    with Session(engine) as session, session.begin():
        session.add(Payment(payment_id="pay-1", amount=1200))
        record(session, make_event(payment_id="pay-1"))
        raise RuntimeError("card declined downstream")


def test_session_commit_stores_payment_and_event_together(engine: sa.Engine) -> None:
    """With an ORM Session: the committed row holds the event's canonical body."""
    with Session(engine) as session, session.begin():
        session.add(Payment(payment_id="pay-1", amount=1200))
        record(session, make_event(payment_id="pay-1"))
    (body,) = _rows(engine)
    assert decode_body(body) == make_event(payment_id="pay-1")


def test_session_rollback_discards_the_event(engine: sa.Engine) -> None:
    """An exception in the payment's transaction leaves neither the payment nor the event."""
    with pytest.raises(RuntimeError):
        _pay_then_fail(engine)
    assert _rows(engine) == []
    with Session(engine) as session:
        assert session.get(Payment, "pay-1") is None


def test_ddl_is_available_for_both_dialects() -> None:
    """The documented DDL renders for PostgreSQL (BIGSERIAL) and SQLite."""
    assert "BIGSERIAL" in outbox_ddl("postgresql")
    assert "CREATE UNIQUE INDEX" not in outbox_ddl("sqlite")
    assert "uq_points_outbox_event_id UNIQUE (event_id)" in outbox_ddl("sqlite")


def test_documented_ddl_matches_the_table() -> None:
    """The DDL in producers/outbox.py's docstring is what the table renders (no drift)."""
    import producers.outbox

    def flat(text: str) -> str:
        return " ".join(text.replace("(", " ( ").replace(")", " ) ").replace(",", " , ").split())

    documented = flat(producers.outbox.__doc__ or "")
    for statement in outbox_ddl("postgresql").split(";"):
        assert flat(statement) in documented
