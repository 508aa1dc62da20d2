"""The edge proxy for the local stack: a real Caddy (Debian's ``caddy``) and the edge agent.

Caddy runs from a JSON config we write: its admin API on ``host:admin_port``, one plain
HTTP server ``edge`` on ``host:port`` (automatic HTTPS off: with host matchers Caddy
would otherwise turn TLS on and answer plain requests with 400), a catch-all 404 as its
only route to begin with, and a JSON access log in a file that the edge agent reads.
Pod routes are added at run time by the pod workflows through the admin API, ahead of
the catch-all.

State lives under ``<state>/caddy/``: the config, the access log, and Caddy's own
``autosave.json`` (``XDG_CONFIG_HOME`` points there, as does ``XDG_DATA_HOME``, so
nothing lands in the home directory). A second start carries the pod routes of the last
run's autosave over into the fresh config, so a second `tenantry dev` still serves the
pods the first one routed; everything else (ports, the catch-all) comes from this run.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devstack.procs import ManagedProcess, StackError, http_ready
from tenantry.rules.edge_names import ROUTE_PREFIX

if TYPE_CHECKING:
    from devstack.dev import DevContext, DevPart

CADDY_PATH = "/usr/bin/caddy"
SERVER = "edge"
FALLBACK_ROUTE_ID = "edge-fallback"


def caddy_binary() -> str:
    found = shutil.which("caddy") or (CADDY_PATH if Path(CADDY_PATH).exists() else None)
    if not found:
        raise StackError("caddy is missing: install Debian's caddy (scripts/install.sh does)")
    return found


def caddy_config(
    *,
    host: str,
    port: int,
    admin_port: int,
    access_log: Path,
    routes: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The whole Caddy config: admin API, the edge server, its access log."""
    fallback = {
        "@id": FALLBACK_ROUTE_ID,
        "handle": [
            {
                "handler": "static_response",
                "status_code": 404,
                "headers": {"Content-Type": ["text/plain; charset=utf-8"]},
                "body": "No pod is served at {http.request.host}.\n",
            }
        ],
    }
    return {
        "admin": {"listen": f"{host}:{admin_port}"},
        "logging": {
            "logs": {
                # Caddy's own messages go to its stderr (our log file); access logs do not.
                "default": {"level": "WARN", "exclude": [f"http.log.access.{SERVER}"]},
                SERVER: {
                    "writer": {"output": "file", "filename": str(access_log)},
                    "encoder": {"format": "json"},
                    "include": [f"http.log.access.{SERVER}"],
                },
            }
        },
        "apps": {
            "http": {
                "servers": {
                    SERVER: {
                        "listen": [f"{host}:{port}"],
                        "automatic_https": {"disable": True},
                        "logs": {"default_logger_name": SERVER},
                        "routes": [*(routes or []), fallback],
                    }
                }
            }
        },
    }


def saved_pod_routes(autosave: Path) -> list[dict[str, Any]]:
    """The pod routes in Caddy's last autosaved config (none if there is none)."""
    try:
        config = json.loads(autosave.read_text())
        routes = config["apps"]["http"]["servers"][SERVER]["routes"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [
        r for r in routes if isinstance(r, dict) and str(r.get("@id", "")).startswith(ROUTE_PREFIX)
    ]


@dataclass
class CaddyServer:
    """One Caddy process with its state in ``state_dir``."""

    state_dir: Path
    port: int
    admin_port: int
    host: str = "127.0.0.1"
    log_path: Path | None = None
    ready_timeout: float = 30.0
    env: dict[str, str] = field(default_factory=dict)
    process: ManagedProcess | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.state_dir = self.state_dir.absolute()

    @property
    def admin_url(self) -> str:
        return f"http://{self.host}:{self.admin_port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def access_log(self) -> Path:
        return self.state_dir / "access.log"

    @property
    def autosave(self) -> Path:
        return self.state_dir / "config" / "caddy" / "autosave.json"

    def write_config(self) -> Path:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        config = caddy_config(
            host=self.host,
            port=self.port,
            admin_port=self.admin_port,
            access_log=self.access_log,
            routes=saved_pod_routes(self.autosave),
        )
        path = self.state_dir / "caddy.json"
        path.write_text(json.dumps(config, indent=2) + "\n")
        return path

    def start(self) -> CaddyServer:
        binary = caddy_binary()
        config = self.write_config()
        self.process = ManagedProcess(
            name="caddy",
            argv=[binary, "run", "--config", str(config)],
            log_path=self.log_path or self.state_dir / "caddy.log",
            ready=http_ready(f"{self.admin_url}/config/", accept=lambda status: status == 200),
            env={
                **self.env,
                "XDG_CONFIG_HOME": str(self.state_dir / "config"),
                "XDG_DATA_HOME": str(self.state_dir / "data"),
            },
            ready_timeout=self.ready_timeout,
            stop_timeout=10.0,
        )
        self.process.start()
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.running

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


def _without_caddy(ctx: DevContext) -> str | None:
    return "caddy is skipped" if "caddy" in ctx.settings.skipped_parts else None


def dev_parts() -> list[DevPart]:
    """`tenantry dev`: Caddy as the edge on 127.0.0.1:8080 and the edge agent beside it."""
    from devstack.dev import DevPart, tenantry_argv

    def start_caddy(ctx: DevContext) -> CaddyServer:
        s = ctx.settings
        caddy = CaddyServer(
            state_dir=ctx.state_dir / "caddy",
            port=s.caddy_port,
            admin_port=s.caddy_admin_port,
            host=s.host,
            log_path=ctx.log_path("caddy"),
            ready_timeout=s.ready_timeout,
        )
        try:
            caddy.start()
        except BaseException:
            caddy.stop()
            raise
        if caddy.process is not None:
            ctx.watched[caddy.process.name] = caddy.process
        from tenantry.settings import CoreSettings

        domain = CoreSettings(env="dev").pod_base_domain
        ctx.env.update(
            {
                "TENANTRY_CADDY_ADMIN_URL": caddy.admin_url,
                "TENANTRY_EDGE_SERVER": SERVER,
                "TENANTRY_EDGE_PUBLIC_PORT": str(s.caddy_port),
                "TENANTRY_EDGE_WAKE_UPSTREAM": f"{s.host}:{s.api_port}",
                "TENANTRY_EDGE_ACCESS_LOG": str(caddy.access_log),
            }
        )
        ctx.urls.append(
            ("Pods (edge, Caddy)", f"http://<service>-<pod>-<account>.{domain}:{s.caddy_port}")
        )
        ctx.urls.append(("Caddy admin", caddy.admin_url))
        return caddy

    def start_agent(ctx: DevContext) -> ManagedProcess:
        # It reports to the API, which starts after it: until then reports wait and retry.
        return ctx.spawn(ctx.process("edge-agent", tenantry_argv("edge-agent"), ready=None))

    return [
        DevPart("caddy", "Caddy (edge)", start_caddy, ("caddy_port", "caddy_admin_port")),
        DevPart("edge-agent", "edge agent", start_agent, skip=_without_caddy),
    ]
