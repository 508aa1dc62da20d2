"""Fault injection and request logging shared by the local API emulators.

Each emulator names its operations (``"servers.create"``, ``"customers.create"``, ...)
and wraps every handler with :func:`faults_middleware`. Tests and operators drive it over
HTTP through the admin routes that :func:`add_admin_routes` mounts under ``/_admin``:

- ``POST /_admin/faults``: ``{"rules": [FaultRule, ...]}`` replaces the active rules;
- ``DELETE /_admin/faults``: clears them;
- ``GET /_admin/requests?operation=``: the request log (what the emulator was asked);
- ``POST /_admin/reset``: clears rules, the log, and the emulator's own state.

A rule can add latency, answer with an error instead of running the handler, or run the
handler and then drop the connection before any byte of the response is sent ("effect
applied, response lost": the case that makes client retries dangerous). ``times`` limits
a rule to the next N matching requests so that tests stay deterministic.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field

ErrorBody = Callable[[int, str, str], dict[str, Any]]
"""Builds an emulator's own error body from ``(status, code, message)``."""

OPERATION_KEY = web.AppKey("operation_name", str)


class FaultRule(BaseModel):
    """One fault: which operations it hits, how often, and what it does."""

    operation: str = Field(description="operation name, or '*' for every operation")
    action: Literal["error", "drop", "latency"] = "error"
    status: int = 500
    code: str = "internal_error"
    message: str = "injected fault"
    headers: dict[str, str] = Field(default_factory=dict)
    rate: float = Field(default=1.0, ge=0.0, le=1.0)
    times: int | None = Field(default=None, ge=1, description="apply to the next N matches")
    latency_ms: int = Field(default=0, ge=0)

    def matches(self, operation: str) -> bool:
        return self.operation in ("*", operation)


class LoggedRequest(BaseModel):
    """A request as the emulator saw it, with what it did about it."""

    at: float
    method: str
    path: str
    operation: str
    status: int | None
    fault: str | None = None
    idempotency_key: str | None = None


@dataclass
class FaultInjector:
    """Active rules and the request log of one emulator process."""

    error_body: ErrorBody
    rules: list[FaultRule] = field(default_factory=list)
    log: list[LoggedRequest] = field(default_factory=list)
    rng: random.Random = field(default_factory=random.Random)
    max_log: int = 10_000

    def set_rules(self, rules: list[FaultRule]) -> None:
        self.rules = list(rules)

    def reset(self) -> None:
        self.rules.clear()
        self.log.clear()

    def pick(self, operation: str) -> list[FaultRule]:
        """Rules that fire for this request; consumes their ``times`` budget."""
        fired: list[FaultRule] = []
        for rule in list(self.rules):
            if not rule.matches(operation) or self.rng.random() >= rule.rate:
                continue
            fired.append(rule)
            if rule.times is not None:
                rule.times -= 1
                if rule.times <= 0:
                    self.rules.remove(rule)
        return fired

    def record(self, entry: LoggedRequest) -> None:
        self.log.append(entry)
        if len(self.log) > self.max_log:
            del self.log[: len(self.log) - self.max_log]


INJECTOR_KEY = web.AppKey("fault_injector", FaultInjector)


def operation(name: str) -> Callable[[Handler], Handler]:
    """Names a handler's operation, the unit that fault rules and the log refer to."""

    def wrap(handler: Handler) -> Handler:
        handler.__operation__ = name  # type: ignore[attr-defined]
        return handler

    return wrap


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def operation_of(request: web.Request) -> str:
    handler = request.match_info.handler
    name = getattr(handler, "__operation__", None)
    if name is None:
        resource = request.match_info.route.resource
        path = resource.canonical if resource is not None else request.path
        name = f"{request.method} {path}"
    return str(name)


@web.middleware
async def faults_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    injector = request.app[INJECTOR_KEY]
    if request.path.startswith("/_admin"):
        return await handler(request)
    op = operation_of(request)
    entry = LoggedRequest(
        at=time.time(),
        method=request.method,
        path=request.path_qs,
        operation=op,
        status=None,
        idempotency_key=request.headers.get("Idempotency-Key"),
    )
    injector.record(entry)
    drop = False
    for rule in injector.pick(op):
        if rule.latency_ms:
            await asyncio.sleep(rule.latency_ms / 1000)
        if rule.action == "error":
            entry.status, entry.fault = rule.status, f"error:{rule.code}"
            body = injector.error_body(rule.status, rule.code, rule.message)
            return web.json_response(body, status=rule.status, headers=rule.headers)
        if rule.action == "drop":
            drop = True
    response = await handler(request)
    entry.status = response.status
    if drop:
        entry.fault = "drop"
        # The effect has happened; now lose the answer, as a network would.
        transport = request.transport
        if transport is not None:
            transport.abort()
        raise asyncio.CancelledError
    return response


async def _set_faults(request: web.Request) -> web.Response:
    payload = await request.json()
    rules = [FaultRule.model_validate(r) for r in payload.get("rules", [])]
    request.app[INJECTOR_KEY].set_rules(rules)
    return web.json_response({"rules": [r.model_dump() for r in rules]})


async def _clear_faults(request: web.Request) -> web.Response:
    request.app[INJECTOR_KEY].set_rules([])
    return web.json_response({"rules": []})


async def _get_faults(request: web.Request) -> web.Response:
    return web.json_response({"rules": [r.model_dump() for r in request.app[INJECTOR_KEY].rules]})


async def _get_requests(request: web.Request) -> web.Response:
    op = request.query.get("operation")
    entries = [e for e in request.app[INJECTOR_KEY].log if op is None or e.operation == op]
    return web.json_response({"requests": [e.model_dump() for e in entries]})


def add_admin_routes(
    app: web.Application,
    injector: FaultInjector,
    reset_state: Callable[[], Awaitable[None]],
) -> None:
    """Mounts the ``/_admin`` routes and the fault middleware on ``app``."""

    async def _reset(request: web.Request) -> web.Response:
        injector.reset()
        await reset_state()
        return web.json_response({"reset": True})

    app[INJECTOR_KEY] = injector
    app.middlewares.append(faults_middleware)
    app.router.add_post("/_admin/faults", _set_faults)
    app.router.add_get("/_admin/faults", _get_faults)
    app.router.add_delete("/_admin/faults", _clear_faults)
    app.router.add_get("/_admin/requests", _get_requests)
    app.router.add_post("/_admin/reset", _reset)
