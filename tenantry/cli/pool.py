"""`tenantry pool`: the warm pools of tenant servers (admin token)."""

from __future__ import annotations

import typer

from tenantry.cli.http import ApiUrlOption, Cli, JsonOption, TokenOption, table

app = typer.Typer(help="Warm pools of tenant servers (admin token).", no_args_is_help=True)


@app.command("status")
def status(
    api_url: ApiUrlOption = None, token: TokenOption = None, as_json: JsonOption = False
) -> None:
    """Each pool's size, ready servers, claims, misses and monthly cost."""
    cli = Cli.from_options(api_url, token, as_json)
    view = cli.call("GET", "/v1/admin/pool")
    rows = [{**p, "monthly_cost": f"{p['monthly_cost_cents'] / 100:.2f}"} for p in view["pools"]]
    columns = ["tier", "location", "size", "ready", "creating", "claims", "misses"]
    total = f"{view['monthly_cost_cents'] / 100:.2f}"
    cli.out(view, table(rows, [*columns, "monthly_cost"]) + f"\ntotal a month: {total}")
