"""`tenantry usage`: a team's usage (API key); metering runs and reconciliation (admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from tenantry.cli.http import (
    EXIT_BAD_INPUT,
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
    """Compare the local ledger with Stripe's meter totals; exit 1 on any difference (admin)."""
    cli = Cli.from_options(api_url, token, as_json)
    result = cli.call("GET", "/v1/admin/reconciliation", params={"month": month})
    cli.out(result, f"{result['month']}: local {result['local_total']}, Stripe "
            f"{result['stripe_total']}, {len(result['differences'])} difference(s)")  # fmt: skip
    if result["differences"]:
        raise typer.Exit(1)
