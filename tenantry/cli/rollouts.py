"""`tenantry rollout`: roll an image tag out to every active tenant (admin token).

`start` and `show --wait` follow the rollout to its end, printing progress on stderr;
they exit 0 when it completed and 1 when it failed (a tenant was rolled back) or was
cancelled. Bad input (an invalid tag, parallelism below 1, a conflict) exits 2.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from tenantry.cli.http import (
    EXIT_FAILED,
    AllOption,
    ApiUrlOption,
    Cli,
    JsonOption,
    TokenOption,
    table,
)

app = typer.Typer(
    help="Roll an image tag out to every active tenant, canary first (admin token).",
    no_args_is_help=True,
)

FINAL = {"completed", "failed", "cancelled"}
IdArgument = Annotated[str, typer.Argument(help="the rollout id")]
ReasonOption = Annotated[str | None, typer.Option(help="recorded in the audit log")]
PollOption = Annotated[float, typer.Option(help="seconds between progress checks", min=0.1)]


def _summary(r: dict[str, Any]) -> str:
    c = r["counts"]
    done = c["total"] - c["pending"] - c["skipped"]
    parts = [f"{n} {s}" for s, n in c.items() if n and s not in ("total", "pending")]
    return (
        f"rollout {r['rollout_id']} of {r['tag']}: {r['status']} ({r['phase']}), "
        f"{done}/{c['total'] - c['skipped']} tenants done"
        + (f": {', '.join(parts)}" if parts else "")
    )


def _text(r: dict[str, Any]) -> str:
    lines = [_summary(r)]
    if r.get("error"):
        lines.append(f"error: {r['error']}")
    lines.append(
        table(r["tenants"], ["subdomain", "status", "from_version", "to_version", "reason"])
    )
    return "\n".join(lines)


def _follow(cli: Cli, rollout: dict[str, Any], poll: float) -> dict[str, Any]:
    last = ""
    while True:
        line = _summary(rollout)
        if line != last and not cli.json:
            typer.echo(f"  {line}", err=True)
            last = line
        if rollout["status"] in FINAL:
            return rollout
        time.sleep(poll)
        rollout = cli.call("GET", f"/v1/admin/rollouts/{rollout['rollout_id']}")


def _finish(cli: Cli, rollout: dict[str, Any]) -> None:
    cli.out(rollout, _text(rollout))
    if rollout["status"] in ("failed", "cancelled"):
        raise typer.Exit(EXIT_FAILED)


@app.command("start")
def start(
    tag: Annotated[str, typer.Argument(help="the image tag, e.g. 2.4.1")],
    parallelism: Annotated[int, typer.Option(min=1, max=100, help="tenants updated at a time")] = 1,
    canary: Annotated[
        int, typer.Option(min=0, max=1000, help="tenants that must pass before the rest start")
    ] = 1,
    wait: Annotated[bool, typer.Option(help="follow the rollout until it ends")] = True,
    poll: PollOption = 1.0,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Start a rollout: canary first, then the rest; a tenant failing its gate halts it.

    Each tenant is health-gated on the new tag; one that fails is rolled back to its
    previous tag and nothing new starts. Exit 0 completed, 1 failed or cancelled.
    """
    cli = Cli.from_options(api_url, token, as_json)
    body = {"tag": tag, "parallelism": parallelism, "canary": canary}
    rollout = cli.call("POST", "/v1/admin/rollouts", json=body)
    if not cli.json:
        typer.echo(f"rollout {rollout['rollout_id']} started", err=True)
    if wait:
        rollout = _follow(cli, rollout, poll)
    _finish(cli, rollout)


@app.command("show")
def show(
    rollout_id: IdArgument,
    wait: Annotated[bool, typer.Option(help="follow the rollout until it ends")] = False,
    poll: PollOption = 1.0,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a rollout: status, counts and every tenant's result."""
    cli = Cli.from_options(api_url, token, as_json)
    rollout = cli.call("GET", f"/v1/admin/rollouts/{rollout_id}")
    if wait:
        rollout = _follow(cli, rollout, poll)
    _finish(cli, rollout)


@app.command("list")
def list_rollouts(
    every_page: AllOption = False,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """List rollouts, newest first."""
    cli = Cli.from_options(api_url, token, as_json)
    rows = cli.list("/v1/admin/rollouts", "rollout_id", every_page=every_page)
    cli.out(rows, table(rows, ["rollout_id", "tag", "status", "phase", "created_at"]))


def _control(cli: Cli, rollout_id: str, operation: str, reason: str | None) -> None:
    rollout = cli.call(
        "POST", f"/v1/admin/rollouts/{rollout_id}/{operation}", json={"reason": reason}
    )
    cli.out(rollout, _summary(rollout))


@app.command("pause")
def pause(
    rollout_id: IdArgument,
    reason: ReasonOption = None,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Pause: no new tenant starts; tenants in flight finish."""
    _control(Cli.from_options(api_url, token, as_json), rollout_id, "pause", reason)


@app.command("resume")
def resume(
    rollout_id: IdArgument,
    reason: ReasonOption = None,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Resume a paused rollout."""
    _control(Cli.from_options(api_url, token, as_json), rollout_id, "resume", reason)


@app.command("cancel")
def cancel(
    rollout_id: IdArgument,
    reason: ReasonOption = None,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Cancel: tenants in flight finish, no other starts; updated tenants keep the tag."""
    _control(Cli.from_options(api_url, token, as_json), rollout_id, "cancel", reason)
