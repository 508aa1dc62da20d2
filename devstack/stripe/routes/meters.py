"""Billing meters, meter events (v1 and the v2 high-throughput stream) and summaries.

Meter events obey Stripe's synchronous rules: ``identifier`` is unique for 24 hours
(a repeat is a 400, which is how a retried report proves it was already counted), and
``timestamp`` must lie within the past 35 days and at most 5 minutes ahead.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from aiohttp import web

from devstack.faults import operation
from devstack.stripe import objects
from devstack.stripe.billing import METER_EVENTS, to_decimal
from devstack.stripe.context import Emulator
from devstack.stripe.errors import StripeError
from devstack.stripe.listing import paginate
from devstack.stripe.middleware import json_response
from devstack.stripe.routes.common import emulator, params, path_id, respond, respond_list
from devstack.stripe.store import Obj, new_id

routes = web.RouteTableDef()

MAX_PAST = 35 * 86400
MAX_FUTURE = 5 * 60
DEDUPE_WINDOW = 24 * 3600
SESSION_TTL = 15 * 60


def _meter(request: web.Request) -> Obj:
    return emulator(request).store.get("billing.meter", path_id(request))


@routes.post("/v1/billing/meters")
@operation("billing.meters.create")
async def create_meter(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    p.check_known(
        {
            "display_name",
            "event_name",
            "default_aggregation",
            "customer_mapping",
            "value_settings",
            "event_time_window",
        }
    )
    display_name, event_name = p.req("display_name"), p.req("event_name")
    aggregation = p.sub("default_aggregation")
    if aggregation is None:
        raise StripeError(
            "Missing required param: default_aggregation.",
            code="parameter_missing",
            param="default_aggregation",
        )
    formula = aggregation.choice("formula", ("sum", "count", "last"))
    if formula is None:
        raise StripeError(
            "Missing required param: default_aggregation[formula].",
            code="parameter_missing",
            param="default_aggregation[formula]",
        )
    if any(
        m["event_name"] == event_name and m["status"] == "active"
        for m in emu.store.all("billing.meter")
    ):
        raise StripeError(
            f"An active meter already exists with the event_name `{event_name}`.",
            param="event_name",
            code="resource_already_exists",
        )
    meter = objects.meter(emu.store.now())
    meter["display_name"], meter["event_name"] = display_name, event_name
    meter["default_aggregation"]["formula"] = formula
    mapping = p.sub("customer_mapping")
    if mapping is not None:
        meter["customer_mapping"] = {
            "event_payload_key": mapping.req("event_payload_key"),
            "type": mapping.choice("type", ("by_id",), "by_id"),
        }
    values = p.sub("value_settings")
    if values is not None:
        meter["value_settings"]["event_payload_key"] = values.req("event_payload_key")
    meter["event_time_window"] = p.choice("event_time_window", ("day", "hour"))
    emu.store.add("billing.meter", meter)
    emu.billing.emit("billing.meter.created", "billing.meter", meter)
    return respond(request, "billing.meter", meter)


@routes.get("/v1/billing/meters/{id}")
@operation("billing.meters.retrieve")
async def get_meter(request: web.Request) -> web.Response:
    return respond(request, "billing.meter", _meter(request))


@routes.post("/v1/billing/meters/{id}")
@operation("billing.meters.update")
async def update_meter(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    p.check_known({"display_name"})
    meter = _meter(request)
    if "display_name" in p:
        meter["display_name"] = p.req("display_name")
    meter["updated"] = emu.store.now()
    emu.billing.emit("billing.meter.updated", "billing.meter", meter)
    return respond(request, "billing.meter", meter)


@routes.post("/v1/billing/meters/{id}/deactivate")
@operation("billing.meters.deactivate")
async def deactivate_meter(request: web.Request) -> web.Response:
    emu = emulator(request)
    meter = _meter(request)
    if meter["status"] != "active":
        raise StripeError("This meter is already inactive.")
    now = emu.store.now()
    meter["status"], meter["updated"] = "inactive", now
    meter["status_transitions"]["deactivated_at"] = now
    emu.billing.emit("billing.meter.deactivated", "billing.meter", meter)
    return respond(request, "billing.meter", meter)


@routes.post("/v1/billing/meters/{id}/reactivate")
@operation("billing.meters.reactivate")
async def reactivate_meter(request: web.Request) -> web.Response:
    emu = emulator(request)
    meter = _meter(request)
    if meter["status"] != "inactive":
        raise StripeError("This meter is already active.")
    meter["status"], meter["updated"] = "active", emu.store.now()
    emu.billing.emit("billing.meter.reactivated", "billing.meter", meter)
    return respond(request, "billing.meter", meter)


@routes.get("/v1/billing/meters")
@operation("billing.meters.list")
async def list_meters(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    status = p.choice("status", ("active", "inactive"))
    items = [m for m in emu.store.all("billing.meter") if status is None or m["status"] == status]
    return respond_list(request, "billing.meter", items, "/v1/billing/meters")


# -- meter events ---------------------------------------------------------------------------


def record_event(
    emu: Emulator,
    *,
    event_name: str,
    payload: dict[str, str],
    identifier: str | None,
    timestamp: int | None,
    param_prefix: str = "",
) -> Obj:
    """Validates and stores one meter event (shared by v1, v2 and the v2 stream)."""
    store = emu.store
    if not isinstance(payload, dict) or not payload:
        raise StripeError(
            f"Missing required param: {param_prefix}payload.",
            code="parameter_missing",
            param=f"{param_prefix}payload",
        )
    meter = next(
        (
            m
            for m in store.all("billing.meter")
            if m["event_name"] == event_name and m["status"] == "active"
        ),
        None,
    )
    customer_key = meter["customer_mapping"]["event_payload_key"] if meter else None
    now = store.now_for(payload.get(customer_key or "stripe_customer_id"))
    if timestamp is None:
        timestamp = now
    if timestamp < now - MAX_PAST:
        raise StripeError(
            "Timestamp must be within the past 35 calendar days.",
            code="timestamp_too_far_in_past",
            param=f"{param_prefix}timestamp",
        )
    if timestamp > now + MAX_FUTURE:
        raise StripeError(
            "Timestamp must not be more than 5 minutes in the future.",
            code="timestamp_in_future",
            param=f"{param_prefix}timestamp",
        )
    if meter is not None:
        assert customer_key is not None
        if not payload.get(customer_key):
            raise StripeError(
                f"Missing customer mapping key `{customer_key}` in the payload.",
                code="meter_event_no_customer_defined",
                param=f"{param_prefix}payload[{customer_key}]",
            )
        value_key = meter["value_settings"]["event_payload_key"]
        value = payload.get(value_key)
        formula = meter["default_aggregation"]["formula"]
        if value is None and formula != "count":
            raise StripeError(
                f"Missing value key `{value_key}` in the payload.",
                code="meter_event_value_not_found",
                param=f"{param_prefix}payload[{value_key}]",
            )
        if value is not None and to_decimal(value) is None:
            raise StripeError(
                f"The value `{value}` for `{value_key}` is not a valid number.",
                code="meter_event_invalid_value",
                param=f"{param_prefix}payload[{value_key}]",
            )
    table = store.table(METER_EVENTS)
    identifier = identifier or new_id("x", 24)[2:]
    if len(identifier) > 100:
        raise StripeError(
            "identifier must be at most 100 characters.", param=f"{param_prefix}identifier"
        )
    previous = table.get(identifier)
    if previous is not None and previous["created"] + DEDUPE_WINDOW > store.now():
        raise StripeError(
            f"An event already exists with identifier {identifier}.",
            code="resource_already_exists",
            param=f"{param_prefix}identifier",
            headers={"Stripe-Should-Retry": "false"},
        )
    event = {
        "object": "billing.meter_event",
        "created": store.now(),
        "event_name": event_name,
        "identifier": identifier,
        "livemode": False,
        "payload": {str(k): str(v) for k, v in payload.items()},
        "timestamp": timestamp,
        "_meter": meter["id"] if meter else None,
        "id": identifier,
    }
    store.add(METER_EVENTS, event)
    return event


def render_event(event: Obj) -> Obj:
    return {k: v for k, v in objects.public(event).items() if k != "id"}


@routes.post("/v1/billing/meter_events")
@operation("billing.meter_events.create")
async def create_meter_event(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    p.check_known({"event_name", "payload", "identifier", "timestamp"})
    event_name = p.req("event_name")
    payload = p.raw("payload")
    if not isinstance(payload, dict):
        raise StripeError(
            "Missing required param: payload.", code="parameter_missing", param="payload"
        )
    event = record_event(
        emu,
        event_name=event_name,
        payload=payload,
        identifier=p.str("identifier"),
        timestamp=p.int("timestamp"),
    )
    return json_response(render_event(event))


def _align(name: str, value: int, step: int, what: str) -> None:
    if value % step:
        raise StripeError(f"{name} must be aligned with {what} boundaries.", param=name)


@routes.get("/v1/billing/meters/{id}/event_summaries")
@operation("billing.meters.event_summaries")
async def event_summaries(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    meter = _meter(request)
    customer = p.req("customer")
    start = p.int("start_time", required=True)
    end = p.int("end_time", required=True)
    assert start is not None and end is not None
    window = p.choice("value_grouping_window", ("hour", "day"))
    _align("start_time", start, 60, "minute")
    _align("end_time", end, 60, "minute")
    if end <= start:
        raise StripeError("end_time must be after start_time.", param="end_time")
    step = {"hour": 3600, "day": 86400}.get(window or "", 0)
    if step:
        what = "hour" if window == "hour" else "UTC day"
        _align("start_time", start, step, what)
        _align("end_time", end, step, what)
    bounds = [(t, min(t + step, end)) for t in range(start, end, step)] if step else [(start, end)]
    summaries = []
    for lo, hi in bounds:
        digest = hashlib.sha256(f"{meter['id']}:{customer}:{lo}:{hi}".encode()).hexdigest()
        value = emu.billing.usage(meter, customer, lo, hi)
        summaries.append(
            {
                "id": f"mtrusg_test_{digest[:24]}",
                "object": "billing.meter_event_summary",
                "aggregated_value": float(value) if value != int(value) else int(value),
                "end_time": hi,
                "livemode": False,
                "meter": meter["id"],
                "start_time": lo,
                "created": lo,
            }
        )
    page = paginate(
        p,
        summaries,
        f"/v1/billing/meters/{meter['id']}/event_summaries",
        lambda s: {k: v for k, v in s.items() if k != "created"},
        order=lambda s: s["start_time"],
    )
    return json_response(page)


# -- v2 -----------------------------------------------------------------------------------


def _iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _parse_iso(value: object, param: str) -> int | None:
    if value is None:
        return None
    try:
        text = str(value).replace("Z", "+00:00")
        return int(dt.datetime.fromisoformat(text).timestamp())
    except ValueError:
        raise StripeError(f"Invalid timestamp: {value}", param=param) from None


@routes.post("/v2/billing/meter_event_session")
@operation("v2.billing.meter_event_session.create")
async def create_session(request: web.Request) -> web.Response:
    emu = emulator(request)
    now = emu.store.now()
    session = {
        "id": new_id("mes"),
        "object": "v2.billing.meter_event_session",
        "authentication_token": new_id("meter_event_session_token", 40),
        "created": _iso(now),
        "expires_at": _iso(now + SESSION_TTL),
        "livemode": False,
        "_expires": now + SESSION_TTL,
    }
    emu.store.add("v2.billing.meter_event_session", session)
    return json_response(objects.public(session))


def _v2_event(emu: Emulator, raw: object, prefix: str) -> Obj:
    if not isinstance(raw, dict):
        raise StripeError("Each event must be an object.", param=prefix.rstrip("."))
    name = raw.get("event_name")
    if not isinstance(name, str) or not name:
        raise StripeError(
            f"Missing required param: {prefix}event_name.",
            code="parameter_missing",
            param=f"{prefix}event_name",
        )
    payload = raw.get("payload")
    return record_event(
        emu,
        event_name=name,
        payload={str(k): str(v) for k, v in payload.items()} if isinstance(payload, dict) else {},
        identifier=raw.get("identifier") if isinstance(raw.get("identifier"), str) else None,
        timestamp=_parse_iso(raw.get("timestamp"), f"{prefix}timestamp"),
        param_prefix=prefix,
    )


@routes.post("/v2/billing/meter_events")
@operation("v2.billing.meter_events.create")
async def create_v2_event(request: web.Request) -> web.Response:
    emu = emulator(request)
    event = _v2_event(emu, params(request).data, "")
    out = render_event(event)
    out.update(
        {
            "object": "v2.billing.meter_event",
            "created": _iso(event["created"]),
            "timestamp": _iso(event["timestamp"]),
        }
    )
    return json_response(out)


@routes.post("/v2/billing/meter_event_stream")
@operation("v2.billing.meter_event_stream.create")
async def stream_events(request: web.Request) -> web.Response:
    """Accepts up to 100 events; like Stripe, invalid ones are dropped asynchronously."""
    emu = emulator(request)
    events = params(request).raw("events")
    if not isinstance(events, list) or not events:
        raise StripeError(
            "Missing required param: events.", code="parameter_missing", param="events"
        )
    if len(events) > 100:
        raise StripeError("A request can contain at most 100 events.", param="events")
    rejected = []
    for i, raw in enumerate(events):
        try:
            _v2_event(emu, raw, f"events[{i}].")
        except StripeError as err:
            rejected.append({"index": i, "code": err.code, "message": err.message})
    emu.stream_errors.extend(rejected)
    return web.Response(text="{}", status=202, content_type="application/json")
