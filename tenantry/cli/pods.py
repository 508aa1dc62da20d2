"""`tenantry pods`: create, list, show, hibernate, restore and destroy pods (API key)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tenantry.cli.http import (
    EXIT_FAILED,
    AllOption,
    ApiUrlOption,
    Cli,
    JsonOption,
    TokenOption,
    follow,
    table,
)

app = typer.Typer(help="Your pods (API key).", no_args_is_help=True)

WaitOption = Annotated[bool, typer.Option("--wait/--no-wait", help="follow until done")]
SETTLED = {"running", "hibernated", "destroyed", "failed"}


def _follow(
    cli: Cli, pod_id: str, done: set[str] = SETTLED, timeout: float = 600
) -> dict[str, Any]:
    """Follows the pod until it is `done`, failed, or settled again with the step's error."""
    return follow(
        cli,
        lambda: cli.call("GET", f"/v1/pods/{pod_id}"),
        settled=lambda pod: (
            pod["status"] in done
            or pod["status"] == "failed"
            or bool(pod.get("error") and pod["status"] in SETTLED)
        ),
        progress=lambda pod: str(pod["status"]),
        what=f"pod {pod_id}",
        timeout=timeout,
        interval=0.5,
    )


def _show(cli: Cli, pod: dict[str, Any]) -> None:
    urls = ", ".join(f"{k}={v}" for k, v in pod.get("urls", {}).items()) or "-"
    snap = pod.get("snapshot") or {}
    cli.out(
        pod,
        f"{pod['name']} ({pod['tier']}): {pod['status']} on {pod.get('host') or '-'}\n"
        f"urls: {urls}\nlast activity: {pod.get('last_activity')} "
        f"({pod.get('last_activity_source') or '-'})\n"
        f"snapshot: {snap.get('key', '-')} {snap.get('sha256', '')}"
        + (f"\nerror: {pod['error']}" if pod.get("error") else ""),
    )
    if pod["status"] == "failed":
        raise typer.Exit(EXIT_FAILED)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="the pod's name")],
    tier: Annotated[str, typer.Option(help="dev.small, dev.medium, dev.large, dev.xlarge")] = (
        "dev.small"
    ),
    config: Annotated[
        Path | None, typer.Option("--config", "-f", help="the pod YAML file", exists=True)
    ] = None,
    wait: WaitOption = True,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a pod from a YAML config; by default wait until it runs."""
    cli = Cli.from_options(api_url, token, as_json)
    body = {"name": name, "tier": tier, "config": config.read_text() if config else None}
    accepted = cli.call("POST", "/v1/pods", json=body)
    if not wait:
        cli.out(accepted, f"pod {accepted['pod_id']}: {accepted['status']}")
        return
    _show(cli, _follow(cli, accepted["pod_id"]))


@app.command("list")
def list_pods(
    every_page: AllOption = False,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """List your pods, newest first."""
    cli = Cli.from_options(api_url, token, as_json)
    rows = cli.list("/v1/pods", "pod_id", every_page=every_page)
    cli.out(rows, table(rows, ["pod_id", "name", "tier", "status", "host", "last_activity"]))


@app.command("show")
def show(
    pod_id: str,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a pod: status, host, URLs, last activity, newest snapshot."""
    cli = Cli.from_options(api_url, token, as_json)
    _show(cli, cli.call("GET", f"/v1/pods/{pod_id}"))


def _act(method: str, path: str, pod_id: str, wait: bool, cli: Cli, done: str) -> None:
    accepted = cli.call(method, path)
    if not wait:
        cli.out(accepted, f"pod {pod_id}: {accepted['status']}")
        return
    _show(cli, _follow(cli, pod_id, {done}))


@app.command("hibernate")
def hibernate(
    pod_id: str,
    wait: WaitOption = True,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Snapshot the pod to S3 and free its host."""
    _act(
        "POST",
        f"/v1/pods/{pod_id}/hibernate",
        pod_id,
        wait,
        Cli.from_options(api_url, token, as_json),
        "hibernated",
    )


@app.command("restore")
def restore(
    pod_id: str,
    wait: WaitOption = True,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Bring a hibernated pod back on any available host."""
    _act(
        "POST",
        f"/v1/pods/{pod_id}/restore",
        pod_id,
        wait,
        Cli.from_options(api_url, token, as_json),
        "running",
    )


@app.command("destroy")
def destroy(
    pod_id: str,
    wait: WaitOption = True,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Remove the pod, its snapshots and its secrets."""
    cli = Cli.from_options(api_url, token, as_json)
    _act("DELETE", f"/v1/pods/{pod_id}", pod_id, wait, cli, "destroyed")
