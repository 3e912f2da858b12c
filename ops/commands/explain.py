"""``points ledger explain ACCOUNT [--month YYYY-MM] [--json]``: why an account has N points.

For customer support (DESIGN §6): per account-month the cap, the earned and the credited
points, every payment with its rate and the campaigns that applied, then every grant. The
balance equals the months' credited points plus the grants. It is recomputed from the
account's stored events under the published rules (``consumers.points.story``); when the
stored balance differs, the command says so on stderr and exits 1 (run ``ledger verify``).
The stored balance is read in the story's own consistent read, so the check holds while
workers write.

With ``--month M`` it reads what that month needs, not the account's whole story: month M
is recomputed from the events of its payments, and the balance is M's credited points plus
the credited points *stored* for the other months plus the grants. The other months' rows
are trusted (``ledger verify`` checks them), so the drift check covers month M and the
grants; on a ledger verify finds clean the output is the whole explanation's M slice.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from consumers.bootstrap import Ledger, bootstrap_ledger
from consumers.points.amounts import Points
from consumers.points.explain import Explanation, MonthLine
from consumers.points.months import MonthKey, month_start
from consumers.points.story import explain_month_story, explain_story
from infra.settings import Config
from ops.commands.common import JsonFlag, say
from ops.output import console, exit_with, fail, print_json
from schemas.errors import ConfigurationError, TransientError


def explain_command(
    ctx: typer.Context,
    account_id: Annotated[str, typer.Argument(help="The account_id of the events.")],
    month: Annotated[
        str | None,
        typer.Option(
            "--month",
            help="Only this JST month (YYYY-MM) and its grants. Recomputes that month from "
            "its events and takes the other months' credited points from their stored rows "
            "(`ledger verify` checks those): the drift check covers this month and the grants.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Why an account has its points: months (cap, earned, credited), payments, grants.

    With --month, that month is recomputed; the other months' stored credits are trusted.
    """
    config: Config = ctx.obj
    if month is not None:
        try:
            month_start(month)
        except ValueError as exc:
            fail(f"--month: {exc}")
    try:
        with bootstrap_ledger(config) as ledger:
            known, explanation, stored = _explained(ledger, account_id, month)
    except (ConfigurationError, TransientError) as exc:
        fail(str(exc))
    if not known and stored is None:
        fail(f"unknown account {account_id!r}: no event of it was applied")
    if as_json:
        print_json(explanation.as_json())
    else:
        print_explanation(explanation)
    recorded = stored if stored is not None else Points()
    if recorded != explanation.balance:
        given = (
            "the events give" if month is None else f"{month}'s events and the stored months give"
        )
        say(
            f"[red]drift:[/red] the stored balance is {_pair(recorded)}, {given} "
            f"{_pair(explanation.balance)}; run `points ledger verify`"
        )
        exit_with(1)


def _explained(
    ledger: Ledger, account_id: str, month: MonthKey | None
) -> tuple[bool, Explanation, Points | None]:
    """Whether the store knows the account, its explanation (from its whole story, or
    bounded by ``month``: ``consumers.points.story``), and the stored balance it is checked
    against — read with the story, so a batch a worker commits meanwhile is in both or in
    neither, never a false drift."""
    rules = ledger.current_rules()
    if month is None:
        story = ledger.retry.call(ledger.store.account_story, account_id)
        return bool(story.bodies), explain_story(account_id, story, rules), story.balance
    bounded = ledger.retry.call(ledger.store.month_story, account_id, month)
    known = bool(bounded.events.bodies or bounded.other_months)
    return known, explain_month_story(account_id, bounded, rules), bounded.balance


def _pair(points: Points) -> str:
    return f"{points.confirmed:,} confirmed / {points.provisional:,} provisional"


def print_explanation(explanation: Explanation) -> None:
    console.print(
        f"account {explanation.account_id}: {_pair(explanation.balance)} "
        "(= credited points of its months + grants)",
        highlight=False,
    )
    for line in explanation.months:
        console.print(_month_table(line))
    if explanation.grants:
        table = Table(title="grants (confirmed at once, never capped)")
        for column in ("occurred_at", "event_id", "points", "reason", "source"):
            table.add_column(column, justify="right" if column == "points" else "left")
        for grant in explanation.grants:
            table.add_row(
                grant.occurred_at.isoformat(),
                grant.event_id,
                f"{grant.points:+,}",
                str(grant.reason),
                grant.source,
            )
        console.print(table)


def _month_table(line: MonthLine) -> Table:
    totals = line.totals
    cap = "no cap" if totals.cap is None else f"cap {totals.cap:,}"
    title = (
        f"{line.month} ({cap}): earned {_pair(totals.earned)}, credited {_pair(totals.credited)}"
    )
    table = Table(title=title)
    for column in ("payment", "rate (bp)", "campaigns", "earned confirmed", "earned provisional"):
        table.add_column(column, justify="left" if column in ("payment", "campaigns") else "right")
    for payment in line.payments:
        table.add_row(
            payment.payment_id,
            str(payment.rate.rate_bp),
            ", ".join(payment.rate.campaigns) or "-",
            f"{payment.earned.confirmed:,}",
            f"{payment.earned.provisional:,}",
        )
    return table
