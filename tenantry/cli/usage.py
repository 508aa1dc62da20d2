"""`tenantry usage`: a team's usage (API key); metering runs, reconciliation and prepaid
credits (admin)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer

from tenantry.cli.http import (
    EXIT_BAD_INPUT,
    PAGE_SIZE,
    AllOption,
    ApiUrlOption,
    Cli,
    JsonOption,
    TokenOption,
    fail,
    table,
)

app = typer.Typer(help="Usage and metering.", no_args_is_help=True)

MonthOption = Annotated[str | None, typer.Option(help="YYYY-MM (default: this month, UTC)")]


@app.command("show")
def show(
    month: MonthOption = None,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Hours and cost by tier, free hours left, credits (your API key)."""
    cli = Cli.from_options(api_url, token, as_json)
    view = cli.call("GET", "/v1/usage", params={"month": month} if month else None)
    rows = [{**t, "hours": t["hours"], "cost_usd": t["cost_usd"]} for t in view["by_tier"]]
    cli.out(
        view,
        f"{view['month']}: ${view['total_cost_usd']} "
        f"({view['free_hours_left']} free hours left, credits {view['credits_usd']})\n"
        + table(rows, ["tier", "hours", "billable_hours", "cost_usd"]),
    )


@app.command("run")
def run(
    hour: Annotated[str, typer.Option(help="the UTC hour to meter, e.g. 2026-11-21T17:00")],
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Meter one closed hour now; what is already metered stays as it is (admin)."""
    try:
        parsed = datetime.fromisoformat(hour)
    except ValueError:
        fail(f"hour: not an ISO time: {hour!r}", EXIT_BAD_INPUT)
    cli = Cli.from_options(api_url, token, as_json)
    result = cli.call("POST", "/v1/admin/metering/run", json={"hour": parsed.isoformat()})
    cli.out(result, f"metered {len(result['hours'])} hour(s): {result['inserted']} new records, "
            f"{result['reported']} reported")  # fmt: skip


@app.command("reconcile")
def reconcile(
    month: Annotated[str, typer.Option(help="YYYY-MM")],
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compare the local ledger with Stripe's meter totals and with the invoices of the
    periods that closed in the month; exit 1 on any difference (admin)."""
    cli = Cli.from_options(api_url, token, as_json)
    result = cli.call("GET", "/v1/admin/reconciliation", params={"month": month})
    invoice_differences = result.get("invoice_differences", [])
    lines = [
        f"{result['month']}: local {result['local_total']}, Stripe {result['stripe_total']}, "
        f"{len(result['differences'])} difference(s)",
        f"invoices: {result.get('invoices', 0)} ({result.get('invoice_lines', 0)} metered "
        f"lines), {len(invoice_differences)} invoice difference(s)",
    ]
    lines += [
        f"  {d['invoice']} {d['event_name']}: ledger {d['local']}, invoice {d['stripe']}"
        for d in invoice_differences
    ]
    cli.out(result, "\n".join(lines))
    if result["differences"] or invoice_differences:
        raise typer.Exit(1)


@app.command("add-credits")
def add_credits(
    account_id: Annotated[str, typer.Argument(help="the account (a team owner) to credit")],
    amount: Annotated[str, typer.Option("--amount", help="USD, e.g. 25.00")],
    reference: Annotated[
        str, typer.Option(help="your unique id for this top-up; repeating it adds nothing")
    ],
    reason: Annotated[str | None, typer.Option(help="shown in the ledger")] = None,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add prepaid credits once per reference; ends a depletion's grace period (admin)."""
    try:
        value = Decimal(amount)
    except InvalidOperation:
        fail(f"amount: not a number: {amount!r}", EXIT_BAD_INPUT)
    if not value.is_finite() or value <= 0:
        fail(f"amount: must be more than zero: {amount!r}", EXIT_BAD_INPUT)
    cli = Cli.from_options(api_url, token, as_json)
    body = {"amount_usd": str(value), "reference": reference}
    if reason:
        body["reason"] = reason
    result = cli.call("POST", f"/v1/admin/accounts/{account_id}/credits", json=body)
    done = "added" if result["applied"] else "already added before (nothing changed)"
    cli.out(result, f"${result['amount_usd']} {done}; balance ${result['balance_usd']}")


@app.command("credits")
def credits(
    account_id: Annotated[str, typer.Argument(help="the account (a team owner)")],
    every_page: AllOption = False,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """An account's credit balance and latest ledger entries (admin); --all: every entry."""
    cli = Cli.from_options(api_url, token, as_json)
    path = f"/v1/admin/accounts/{account_id}/credits"
    view = cli.call("GET", path, params={"limit": PAGE_SIZE})
    while view["has_more"] and every_page:
        older = {"limit": PAGE_SIZE, "starting_after": view["entries"][-1]["entry_id"]}
        page = cli.call("GET", path, params=older)
        view = {**view, "entries": view["entries"] + page["entries"], "has_more": page["has_more"]}
    if view["has_more"]:
        typer.echo(
            f"(latest {len(view['entries'])} entries shown; more exist: use --all)", err=True
        )
    if not view["prepaid"]:
        cli.out(view, "not prepaid (no credits ledger entry): usage is invoiced through Stripe")
        return
    rows = [{**e, "at": str(e["at"])[:19]} for e in view["entries"]]
    cli.out(
        view,
        f"balance ${view['balance_usd']}\n"
        + table(rows, ["at", "delta_usd", "balance_usd", "reason", "reference"]),
    )
