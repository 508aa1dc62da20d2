"""The aiohttp application: routes, auth, rate limit, error bodies and fault injection.

Middleware order, outermost first: the API middleware (auth, rate limit, error bodies,
``RateLimit-*`` headers on every response), then the shared fault injector, then the
handler. So injected faults also carry rate-limit headers, and ``/_admin`` is open.
"""

from __future__ import annotations

import logging

from aiohttp import web

from devstack.faults import FaultInjector, Handler, add_admin_routes
from devstack.hetzner import (
    routes_actions,
    routes_admin,
    routes_catalog,
    routes_servers,
    routes_ssh_keys,
)
from devstack.hetzner.config import EmulatorConfig
from devstack.hetzner.emulator import Emulator
from devstack.hetzner.errors import HetznerError, error_body
from devstack.hetzner.web import EMULATOR

log = logging.getLogger(__name__)


def _error_response(error: HetznerError, headers: dict[str, str]) -> web.Response:
    return web.json_response(
        error.body(), status=error.status, headers={**headers, **error.headers}
    )


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/_admin"):
        return await handler(request)
    emu = request.app[EMULATOR]
    auth = request.headers.get("Authorization", "")
    token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
    allowed, headers = emu.limiter.take(token)
    try:
        if not allowed:
            raise HetznerError("rate_limit_exceeded", "limit of requests per hour reached")
        if token != emu.config.token:
            raise HetznerError("unauthorized", "unable to authenticate")
        response = await handler(request)
    except HetznerError as exc:
        return _error_response(exc, headers)
    except web.HTTPNotFound:
        return _error_response(HetznerError("not_found", "not found"), headers)
    except web.HTTPMethodNotAllowed:
        return _error_response(
            HetznerError("method_not_allowed", "method not allowed", status=405), headers
        )
    response.headers.update(headers)
    return response


def build_app(config: EmulatorConfig) -> web.Application:
    emu = Emulator(config)
    app = web.Application(middlewares=[api_middleware])
    app[EMULATOR] = emu
    for table in (routes_servers.routes, routes_actions.routes, routes_catalog.routes,
                  routes_ssh_keys.routes, routes_admin.routes):  # fmt: skip
        app.router.add_routes(table)
    add_admin_routes(app, FaultInjector(error_body=error_body), emu.reset)

    async def _teardown(app: web.Application) -> None:
        await app[EMULATOR].teardown()

    app.on_shutdown.append(_teardown)
    return app
