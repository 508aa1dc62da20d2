"""The aiohttp application: routes, auth, rate limit, error bodies and fault injection.

Middleware order, outermost first: the rate limiter (``RateLimit-*`` headers on every
response, injected faults included), the shared fault injector (which logs requests),
then the API middleware (429, 401, error bodies), then the handler. ``/_admin`` is open.
"""

from __future__ import annotations

import logging

from aiohttp import web

from devstack.faults import FaultInjector, Handler, add_admin_routes
from devstack.hetzner import (
    persist,
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


_RATE_KEY = "hetzner_rate_limit"


def _error_response(error: HetznerError) -> web.Response:
    return web.json_response(error.body(), status=error.status, headers=error.headers)


def _token(request: web.Request) -> str:
    auth = request.headers.get("Authorization", "")
    return auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""


@web.middleware
async def rate_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost: spends the token's budget and puts ``RateLimit-*`` on every answer."""
    if request.path.startswith("/_admin"):
        return await handler(request)
    allowed, headers = request.app[EMULATOR].limiter.take(_token(request))
    request[_RATE_KEY] = allowed
    response = await handler(request)
    response.headers.update(headers)
    return response


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Innermost: refusals and errors become responses, so the request log sees them."""
    if request.path.startswith("/_admin"):
        return await handler(request)
    try:
        if not request.get(_RATE_KEY, True):
            raise HetznerError("rate_limit_exceeded", "limit of requests per hour reached")
        if _token(request) != request.app[EMULATOR].config.token:
            raise HetznerError("unauthorized", "unable to authenticate")
        return await handler(request)
    except HetznerError as exc:
        return _error_response(exc)
    except web.HTTPNotFound:
        return _error_response(HetznerError("not_found", "not found"))
    except web.HTTPMethodNotAllowed:
        return _error_response(HetznerError("method_not_allowed", "method not allowed", status=405))


def build_app(config: EmulatorConfig) -> web.Application:
    emu = Emulator(config)
    app = web.Application(middlewares=[rate_limit_middleware])
    app[EMULATOR] = emu
    for table in (routes_servers.routes, routes_actions.routes, routes_catalog.routes,
                  routes_ssh_keys.routes, routes_admin.routes):  # fmt: skip
        app.router.add_routes(table)
    add_admin_routes(app, FaultInjector(error_body=error_body), emu.reset)
    app.middlewares.append(api_middleware)  # inside the fault injector

    if config.persist:

        async def _restore(app: web.Application) -> None:
            persist.enable(app[EMULATOR])

        app.on_startup.append(_restore)

    async def _teardown(app: web.Application) -> None:
        await app[EMULATOR].teardown()

    app.on_shutdown.append(_teardown)
    return app
