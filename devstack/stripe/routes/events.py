"""Events, webhook endpoints and test clocks."""

from __future__ import annotations

import asyncio
import contextvars
import re
from urllib.parse import urlparse

from aiohttp import web

from devstack.faults import operation
from devstack.stripe import objects
from devstack.stripe.billing import add_interval
from devstack.stripe.context import Emulator
from devstack.stripe.errors import StripeError
from devstack.stripe.listing import created_filter
from devstack.stripe.params import Params
from devstack.stripe.routes.common import (
    deleted,
    emulator,
    params,
    path_id,
    respond,
    respond_list,
)
from devstack.stripe.store import Obj

routes = web.RouteTableDef()

EVENT_TYPE = re.compile(r"^(\*|[a-z_]+(\.[a-z_*]+)+)$")
MAX_ENDPOINTS = 16


@routes.get("/v1/events/{id}")
@operation("events.retrieve")
async def get_event(request: web.Request) -> web.Response:
    return respond(request, "event", emulator(request).store.get("event", path_id(request)))


def _type_matches(pattern: str, event_type: str) -> bool:
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


@routes.get("/v1/events")
@operation("events.list")
async def list_events(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    single, types = p.str("type"), [str(t) for t in p.list("types")]
    if single and types:
        raise StripeError(
            "You may only specify one of these parameters: type, types.", param="types"
        )
    if len(types) > 20:
        raise StripeError("You may pass at most 20 types.", param="types")
    patterns = [single] if single else types
    delivered = p.bool("delivery_success")
    created = created_filter(p)
    items = [
        e
        for e in emu.store.all("event")
        if (not patterns or any(_type_matches(t, e["type"]) for t in patterns))
        and (delivered is None or (e["pending_webhooks"] == 0) == delivered)
        and created(e["created"])
    ]
    return respond_list(request, "event", items, "/v1/events")


# -- webhook endpoints ------------------------------------------------------------------------


def _events_param(p: Params) -> list[str]:
    events = [str(e) for e in p.list("enabled_events")]
    if not events:
        raise StripeError(
            "Missing required param: enabled_events.",
            code="parameter_missing",
            param="enabled_events",
        )
    for i, name in enumerate(events):
        if not EVENT_TYPE.match(name):
            raise StripeError(f"Invalid event type: {name}", param=f"enabled_events[{i}]")
    return events


def _url_param(p: Params) -> str:
    url = p.req("url")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise StripeError(
            f"Invalid URL: {url}. URLs must begin with http:// or https://",
            param="url",
            code="url_invalid",
        )
    return url


@routes.post("/v1/webhook_endpoints")
@operation("webhook_endpoints.create")
async def create_endpoint(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    p.check_known({"url", "enabled_events", "description", "metadata", "api_version", "connect"})
    if sum(1 for _ in emu.store.all("webhook_endpoint")) >= MAX_ENDPOINTS:
        raise StripeError(
            f"You have reached the maximum of {MAX_ENDPOINTS} test webhook endpoints.",
        )
    endpoint = objects.webhook_endpoint(emu.store.now())
    endpoint["url"] = _url_param(p)
    endpoint["enabled_events"] = _events_param(p)
    endpoint["description"] = p.str("description")
    endpoint["api_version"] = p.str("api_version")
    endpoint["metadata"] = p.metadata()
    emu.store.add("webhook_endpoint", endpoint)
    return respond(request, "webhook_endpoint", endpoint, {"secret": endpoint["_secret"]})


@routes.get("/v1/webhook_endpoints/{id}")
@operation("webhook_endpoints.retrieve")
async def get_endpoint(request: web.Request) -> web.Response:
    store = emulator(request).store
    return respond(request, "webhook_endpoint", store.get("webhook_endpoint", path_id(request)))


@routes.post("/v1/webhook_endpoints/{id}")
@operation("webhook_endpoints.update")
async def update_endpoint(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    p.check_known({"url", "enabled_events", "description", "metadata", "disabled"})
    endpoint = emu.store.get("webhook_endpoint", path_id(request))
    if "url" in p:
        endpoint["url"] = _url_param(p)
    if "enabled_events" in p:
        endpoint["enabled_events"] = _events_param(p)
    if "description" in p:
        endpoint["description"] = p.str("description") or None
    if "disabled" in p:
        endpoint["status"] = "disabled" if p.bool("disabled") else "enabled"
    endpoint["metadata"] = p.metadata(endpoint["metadata"])
    return respond(request, "webhook_endpoint", endpoint)


@routes.delete("/v1/webhook_endpoints/{id}")
@operation("webhook_endpoints.delete")
async def delete_endpoint(request: web.Request) -> web.Response:
    emu = emulator(request)
    endpoint = emu.store.get("webhook_endpoint", path_id(request))
    emu.store.remove("webhook_endpoint", endpoint["id"])
    return deleted(endpoint["id"], "webhook_endpoint")


@routes.get("/v1/webhook_endpoints")
@operation("webhook_endpoints.list")
async def list_endpoints(request: web.Request) -> web.Response:
    items = list(emulator(request).store.all("webhook_endpoint"))
    return respond_list(request, "webhook_endpoint", items, "/v1/webhook_endpoints")


# -- test clocks ---------------------------------------------------------------------------


def _clock(request: web.Request) -> Obj:
    return emulator(request).store.get("test_helpers.test_clock", path_id(request))


@routes.post("/v1/test_helpers/test_clocks")
@operation("test_helpers.test_clocks.create")
async def create_clock(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    p.check_known({"frozen_time", "name"})
    frozen = p.int("frozen_time", required=True)
    assert frozen is not None
    clock = objects.test_clock(emu.store.now(), frozen, p.str("name"))
    emu.store.add("test_helpers.test_clock", clock)
    emu.billing.emit("test_helpers.test_clock.created", "test_helpers.test_clock", clock)
    return respond(request, "test_helpers.test_clock", clock)


@routes.get("/v1/test_helpers/test_clocks/{id}")
@operation("test_helpers.test_clocks.retrieve")
async def get_clock(request: web.Request) -> web.Response:
    return respond(request, "test_helpers.test_clock", _clock(request))


@routes.get("/v1/test_helpers/test_clocks")
@operation("test_helpers.test_clocks.list")
async def list_clocks(request: web.Request) -> web.Response:
    items = list(emulator(request).store.all("test_helpers.test_clock"))
    return respond_list(request, "test_helpers.test_clock", items, "/v1/test_helpers/test_clocks")


@routes.delete("/v1/test_helpers/test_clocks/{id}")
@operation("test_helpers.test_clocks.delete")
async def delete_clock(request: web.Request) -> web.Response:
    emu = emulator(request)
    clock = _clock(request)
    for customer in emu.store.all("customer"):
        if customer.get("test_clock") == clock["id"]:
            for sub in emu.store.all("subscription"):
                if sub["customer"] == customer["id"]:
                    emu.store.remove("subscription", sub["id"])
            emu.store.remove("customer", customer["id"])
    emu.store.remove("test_helpers.test_clock", clock["id"])
    emu.billing.emit("test_helpers.test_clock.deleted", "test_helpers.test_clock", clock)
    return deleted(clock["id"], "test_helpers.test_clock")


def _shortest_interval_limit(emu: Emulator, clock: Obj) -> int | None:
    """Stripe lets a clock move at most two intervals of its shortest subscription."""
    limits = []
    for sub in emu.store.all("subscription"):
        if sub["test_clock"] != clock["id"] or sub["status"] in ("canceled", "incomplete_expired"):
            continue
        interval, count = emu.billing.interval(sub)
        limits.append(add_interval(int(clock["frozen_time"]), interval, count, 2))
    return min(limits) if limits else None


@routes.post("/v1/test_helpers/test_clocks/{id}/advance")
@operation("test_helpers.test_clocks.advance")
async def advance_clock(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    p.check_known({"frozen_time"})
    clock = _clock(request)
    target = p.int("frozen_time", required=True)
    assert target is not None
    if clock["status"] == "advancing":
        raise StripeError(
            "The test clock is currently advancing; wait until its status is `ready`."
        )
    if target <= int(clock["frozen_time"]):
        raise StripeError(
            "The frozen_time must be after the test clock's current frozen_time.",
            param="frozen_time",
        )
    limit = _shortest_interval_limit(emu, clock)
    if limit is not None and target > limit:
        raise StripeError(
            "Cannot advance the test clock to a time more than two intervals beyond the "
            "shortest subscription interval on it. Advance it in smaller steps.",
            param="frozen_time",
        )
    clock["status"] = "advancing"
    clock["status_details"] = {
        "advancing": {"target_frozen_time": target},
    }
    emu.billing.emit("test_helpers.test_clock.advancing", "test_helpers.test_clock", clock)
    response = respond(request, "test_helpers.test_clock", clock)
    asyncio.get_running_loop().call_later(
        0.05, _finish_advance, emu, clock["id"], target, context=contextvars.Context()
    )
    return response


def _finish_advance(emu: Emulator, clock_id: str, target: int) -> None:
    clock = emu.store.find("test_helpers.test_clock", clock_id)
    if clock is None:
        return
    try:
        emu.billing.run_until(clock_id, target)
    finally:
        clock["status"] = "ready"
        clock["status_details"] = {}
        emu.dirty = True
    emu.billing.emit("test_helpers.test_clock.ready", "test_helpers.test_clock", clock)
