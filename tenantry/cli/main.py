"""The `tenantry` command: production processes, the local stack, and operator commands.

Exit codes: 0 ok, 1 the operation failed, 2 bad input (typer's usage errors included).
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="tenantry",
    help="Tenantry: a Temporal control plane that gives every customer their own infrastructure.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.command()
def dev() -> None:
    """Start the whole system on this machine with embedded defaults (Ctrl-C stops it).

    Needs the devstack extra; without it, one line says what to install (exit 2).
    """
    from tenantry.cli.local_stack import missing_local_stack, missing_message

    missing = missing_local_stack()
    if missing:
        typer.echo(missing_message(missing), err=True)
        raise typer.Exit(2)
    from devstack.dev import run_dev

    raise typer.Exit(run_dev())


@app.command()
def api() -> None:
    """Run the HTTP API (uvicorn) with settings from TENANTRY_* variables."""
    from api.serve import serve

    serve()


@app.command()
def worker() -> None:
    """Run the Temporal worker with every workflow and activity registered."""
    from worker.main import run_worker

    run_worker()


@app.command("edge-agent")
def edge_agent() -> None:
    """Follow the edge proxy's access log and report pod traffic as activity (source proxy)."""
    from tenantry.agents.edge import run_edge_agent

    run_edge_agent()


@app.command()
def migrate() -> None:
    """Upgrade the database schema to the newest revision (alembic upgrade head)."""
    from db.migrate import upgrade_head
    from tenantry.settings import DatabaseSettings

    upgrade_head(DatabaseSettings().database_url)
    typer.echo("database schema is at head")


@app.command()
def doctor() -> None:
    """Check this process's settings and reach every service with them (exit 1 on a failure)."""
    from tenantry.doctor import run_doctor

    raise typer.Exit(run_doctor(typer.echo))


def _register_groups() -> None:
    from tenantry.cli import (
        accounts,
        host_agent,
        hosts,
        keys,
        pods,
        pool,
        rollouts,
        signups,
        tenants,
        usage,
        webhooks,
    )

    app.add_typer(signups.app, name="signup")
    app.add_typer(accounts.app, name="accounts")
    app.add_typer(keys.app, name="keys")
    app.add_typer(tenants.app, name="tenants")
    app.add_typer(pods.app, name="pods")
    app.add_typer(usage.app, name="usage")
    app.add_typer(hosts.app, name="hosts")
    app.add_typer(webhooks.app, name="webhooks")
    app.add_typer(rollouts.app, name="rollout")
    app.add_typer(pool.app, name="pool")
    app.command("host-agent")(host_agent.host_agent)


_register_groups()
