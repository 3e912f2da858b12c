"""``points ledger …``: inspect balances, payments and history; expire; verify.

Every command opens the ledger database named by ``POINTS_DATABASE_URL`` (or
``--database-url``), refuses one whose schema is behind the code, and prints the JSON
shapes of DESIGN §6 with ``--json``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final

import typer
from rich.table import Table

from consumers.bootstrap import Ledger, bootstrap_ledger
from consumers.points.expiry import DEFAULT_TTL
from consumers.points.store.records import HistoryEntry
from consumers.points.verify import Scope
from infra.settings import Config
from ops.output import JsonFlag, console, err_console, exit_with, fail, print_json
from schemas.errors import ConfigurationError, TransientError
from schemas.events import parse_rfc3339

app = typer.Typer(help="The points ledger: balances, payments, history, expiry, verification.")


@contextmanager
def _ledger(ctx: typer.Context) -> Iterator[Ledger]:
    """The configured ledger (``bootstrap_ledger``): migrated, rules loaded, closed after."""
    config: Config = ctx.obj
    try:
        ledger = bootstrap_ledger(config)
    except (ConfigurationError, TransientError) as exc:
        fail(str(exc))
    with ledger:
        try:
            yield ledger
        except TransientError as exc:
            fail(f"{exc.code}: {exc}")


DEFAULT_BALANCES_LIMIT: Final = 1000
DEFAULT_HISTORY_LIMIT: Final = 50


@app.command("balances")
def balances_command(
    ctx: typer.Context,
    account_id: Annotated[str | None, typer.Option("--account", help="Only this account.")] = None,
    limit: Annotated[
        int,
        typer.Option(
            "--limit", help=f"At most this many accounts (default {DEFAULT_BALANCES_LIMIT})."
        ),
    ] = DEFAULT_BALANCES_LIMIT,
    after: Annotated[
        str | None,
        typer.Option("--after", help="Start after this account id (the next page's cursor)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Confirmed and provisional points per account, sorted by account id, a page at a time."""
    _require_positive("--limit", limit)
    if account_id is not None and after is not None:
        fail("--account names one account: it takes no --after")
    with _ledger(ctx) as ledger:
        rows = ledger.store.balances(account_id, after=after, limit=limit + 1)
    page = rows[:limit]
    if as_json:
        print_json([asdict(row) for row in page])
    else:
        table = Table(title="balances")
        for column in ("account_id", "confirmed", "provisional"):
            table.add_column(column, justify="left" if column == "account_id" else "right")
        for row in page:
            table.add_row(row.account_id, f"{row.confirmed:,}", f"{row.provisional:,}")
        console.print(table)
    if len(rows) > limit:
        say(f"more accounts: next page with --after {page[-1].account_id}")


def say(text: str) -> None:
    """A hint for the operator on stderr (never mixed into --json output)."""
    err_console.print(text, highlight=False)


def _require_positive(flag: str, value: int) -> None:
    if value < 1:
        fail(f"{flag} {value}: expected a positive number")


@app.command("payment")
def payment_command(
    ctx: typer.Context,
    payment_id: Annotated[str, typer.Argument(help="The payment_id of the events.")],
    as_json: JsonFlag = False,
) -> None:
    """One payment's facts (sums over its events) and points."""
    with _ledger(ctx) as ledger:
        view = ledger.store.payment(payment_id)
    if view is None:
        fail(f"unknown payment {payment_id!r}: no event of it was applied")
    if as_json:
        print_json(asdict(view))
        return
    table = Table(title=f"payment {payment_id}", show_header=False)
    for key, value in asdict(view).items():
        table.add_row(key, _payment_cell(value))
    console.print(table)


def _payment_cell(value: object) -> str:
    """A value of ``ledger payment`` for people: an unknown (``None``) rate or month is
    ``unknown``, no campaign is ``-``, amounts and points get thousands separators."""
    match value:
        case None:
            return "unknown"
        case bool():
            return str(value)
        case int():
            return f"{value:,}"
        case list():
            return ", ".join(str(item) for item in value) or "-"
        case _:
            return str(value)


@app.command("history")
def history_command(
    ctx: typer.Context,
    account_id: Annotated[str, typer.Argument(help="The account_id of the events.")],
    limit: Annotated[
        int,
        typer.Option(
            "--limit", help=f"At most this many entries (default {DEFAULT_HISTORY_LIMIT})."
        ),
    ] = DEFAULT_HISTORY_LIMIT,
    after: Annotated[
        int | None, typer.Option("--after", help="Entries after this entry id (#), oldest first.")
    ] = None,
    before: Annotated[
        int | None, typer.Option("--before", help="The entries just before this entry id (#).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """An account's ledger entries (one per applied event, one per expiry), oldest first,
    a page at a time: the first ``--limit``, or those after/before an entry id."""
    _require_positive("--limit", limit)
    if after is not None and before is not None:
        fail("--after and --before: pass one cursor")
    with _ledger(ctx) as ledger:
        found = ledger.store.history(account_id, after=after, before=before, limit=limit + 1)
    # One row beyond the page says whether more remain; --before reads backwards from it.
    entries = found[-limit:] if before is not None else found[:limit]
    if as_json:
        print_json([_history_json(entry) for entry in entries])
    else:
        _print_history(account_id, entries)
    if len(found) > limit:
        if before is not None:
            say(f"earlier entries: previous page with --before {entries[0].entry_id}")
        else:
            say(f"more entries: next page with --after {entries[-1].entry_id}")


def _print_history(account_id: str, entries: list[HistoryEntry]) -> None:
    table = Table(title=f"history of {account_id}")
    for column in ("#", "recorded", "kind", "payment", "event", "type", "amount", "conf", "prov"):
        table.add_column(column)
    for e in entries:
        table.add_row(
            str(e.entry_id),
            e.recorded_at.isoformat(timespec="seconds"),
            e.kind,
            e.payment_id,
            e.event_id or "",
            e.event_type or "",
            "" if e.amount is None else f"¥{e.amount:,}",
            f"{e.confirmed_delta:+,}",
            f"{e.provisional_delta:+,}",
        )
    console.print(table)


def _history_json(entry: HistoryEntry) -> dict[str, Any]:
    data = asdict(entry)
    for key in ("recorded_at", "occurred_at"):
        if data[key] is not None:
            data[key] = data[key].isoformat()
    return data


@app.command("expire")
def expire_command(
    ctx: typer.Context,
    now: Annotated[
        str | None, typer.Option("--now", help="RFC 3339 instant to expire as of (default: now).")
    ] = None,
    ttl_days: Annotated[
        int, typer.Option("--ttl-days", min=0, help="Age of the latest authorization.")
    ] = DEFAULT_TTL.days,
    as_json: JsonFlag = False,
) -> None:
    """Release provisional points of payments whose latest authorization is too old."""
    as_of = _parse_now(now)
    with _ledger(ctx) as ledger:
        released = ledger.expire(now=as_of, ttl=timedelta(days=ttl_days))
    if as_json:
        print_json(
            {
                "now": as_of.isoformat(),
                "ttl_days": ttl_days,
                "expired": [asdict(item) for item in released],
            }
        )
        return
    total = sum(item.released for item in released)
    console.print(
        f"expired {len(released)} payment(s), released {total:,} provisional points "
        f"(as of {as_of.isoformat()}, TTL {ttl_days} days)",
        highlight=False,
    )


def _parse_now(now: str | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    try:
        return parse_rfc3339(now)
    except ValueError as exc:
        fail(f"--now {now!r}: {exc}")


@app.command("verify")
def verify_command(
    ctx: typer.Context,
    account_id: Annotated[
        str | None, typer.Option("--account", help="Check this account only.")
    ] = None,
    first: Annotated[
        str | None, typer.Option("--from", help="Check accounts from this id on (inclusive).")
    ] = None,
    last: Annotated[
        str | None, typer.Option("--to", help="Check accounts up to this id (inclusive).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Recompute payments from stored events and balances from entries; exit 1 on drift.

    Streams through the accounts in id order, a bounded chunk at a time.
    """
    scope = _verify_scope(account_id, first, last)
    with _ledger(ctx) as ledger:
        report = ledger.verify(scope)
    if as_json:
        print_json(
            {
                "clean": report.clean,
                "events": report.events,
                "entries": report.entries,
                "payments": report.payments,
                "accounts": report.accounts,
                "drifts": [asdict(drift) for drift in report.drifts],
            }
        )
    else:
        for drift in report.drifts:
            console.print(f"DRIFT {drift.check} {drift.key}: {drift.detail}", highlight=False)
        verdict = "clean" if report.clean else f"{len(report.drifts)} drift(s)"
        console.print(
            f"{verdict}: {report.events} events, {report.entries} entries, "
            f"{report.payments} payments, {report.accounts} accounts",
            highlight=False,
        )
    if not report.clean:
        exit_with(1)


def _verify_scope(account_id: str | None, first: str | None, last: str | None) -> Scope:
    if account_id is not None:
        if first is not None or last is not None:
            fail("--account checks one account: it takes no --from/--to")
        return Scope.account(account_id)
    if first is not None and last is not None and first > last:
        fail(f"--from {first!r} sorts after --to {last!r}: no account is in that range")
    return Scope(first, last)
