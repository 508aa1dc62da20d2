"""Emulator-only admin routes (besides the shared ``/_admin/faults|requests|reset``).

- ``GET /_admin/servers``: internal view of every server (address, machine state, host keys);
- ``GET /_admin/config`` / ``POST /_admin/config``: ``boot_delay``, ``action_duration``,
  ``rate_limit``, ``action_failures`` (make the next actions of a command fail), and
  ``failing_stack_tags`` (image tags whose tenant app answers ``/health`` with 503 once
  ``tenantry-stack deploy`` put them on a server: a bad release, to test rollbacks) and
  ``failing_pulls`` (``{tag: n}``: the next n pulls of that tag fail on any server, as a
  registry's timeout would) and ``server_latency`` (``{type or "*": {"running": s,
  "healthy": s}}``: create -> running, running -> healthy; realistic delays for benches).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from devstack.hetzner.actions import ActionFailure
from devstack.hetzner.config import ServerLatency
from devstack.hetzner.web import emulator

routes = web.RouteTableDef()


class ConfigUpdate(BaseModel):
    boot_delay: float | None = Field(default=None, ge=0)
    action_duration: float | None = Field(default=None, ge=0)
    rate_limit: int | None = Field(default=None, ge=1)
    action_failures: list[ActionFailure] | None = None
    failing_stack_tags: list[str] | None = None
    failing_pulls: dict[str, int] | None = None
    server_latency: dict[str, ServerLatency] | None = None


def _config_view(request: web.Request) -> dict[str, Any]:
    emu = emulator(request)
    return {
        "boot_delay": emu.config.boot_delay,
        "action_duration": emu.config.action_duration,
        "rate_limit": emu.config.rate_limit,
        "network": emu.config.network,
        "state_dir": str(emu.config.state_dir.resolve()),
        "action_failures": [f.model_dump() for f in emu.runner.failures],
        "failing_stack_tags": list(emu.config.failing_stack_tags),
        "failing_pulls": emu.failing_pulls(),
        "server_latency": {t: v.model_dump() for t, v in emu.config.server_latency.items()},
    }


@routes.get("/_admin/servers")
async def admin_servers(request: web.Request) -> web.Response:
    return web.json_response({"servers": emulator(request).admin_view()})


@routes.get("/_admin/config")
async def admin_get_config(request: web.Request) -> web.Response:
    return web.json_response(_config_view(request))


@routes.post("/_admin/config")
async def admin_set_config(request: web.Request) -> web.Response:
    try:
        update = ConfigUpdate.model_validate(await request.json())
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    emu = emulator(request)
    emu.set_config(boot_delay=update.boot_delay, action_duration=update.action_duration,
                   rate_limit=update.rate_limit,
                   server_latency=update.server_latency)  # fmt: skip
    if update.action_failures is not None:
        emu.runner.failures = list(update.action_failures)
    if update.failing_stack_tags is not None:
        emu.config.failing_stack_tags = tuple(update.failing_stack_tags)
    if update.failing_pulls is not None:
        emu.set_failing_pulls(update.failing_pulls)
    return web.json_response(_config_view(request))
