"""Emulator-only admin routes under ``/_admin`` (the shared fault routes live in faults.py).

- ``POST /_admin/advance`` ``{"seconds": N}``: moves the account clock (objects without a
  test clock) forward and runs the renewals that fall due; answers ``{"now": ...}``.
- ``GET /_admin/clock``: ``{"now": ..., "offset": ...}``.
- ``POST /_admin/customers/{id}/payment_behavior`` ``{"fail": bool}``: every charge to the
  customer fails (``card_declined``) until set back.
- ``POST /_admin/checkout/{id}/pay`` ``{"card", "email", "name"}``: pays a Checkout Session
  as the hosted page would (402 with Stripe's card error on a decline).
- ``POST /_admin/events/{id}/redeliver`` ``{"endpoint": "we_..."?}``: sends an event again.
- ``GET /_admin/deliveries?event=&endpoint=``: every webhook delivery attempt.
- ``POST /_admin/rate_limit`` ``{"requests_per_second": float|null, "burst": int}``.
- ``GET /_admin/meter_event_stream/errors``: events the v2 stream dropped, and why.
"""

from __future__ import annotations

from dataclasses import asdict

from aiohttp import web

from devstack.stripe import objects
from devstack.stripe.context import emulator
from devstack.stripe.errors import StripeError
from devstack.stripe.routes.checkout import complete

routes = web.RouteTableDef()


def _json(body: object, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


async def _body(request: web.Request) -> dict[str, object]:
    if not request.can_read_body:
        return {}
    data = await request.json()
    return data if isinstance(data, dict) else {}


@routes.post("/_admin/advance")
async def advance(request: web.Request) -> web.Response:
    emu = emulator(request)
    body = await _body(request)
    seconds = body.get("seconds")
    if not isinstance(seconds, int | float) or seconds < 0:
        return _json({"error": "seconds must be a non-negative number"}, 400)
    target = emu.store.now() + int(seconds)
    emu.billing.run_until(None, target)
    emu.dirty = True
    return _json({"now": emu.store.now(), "offset": emu.store.offset})


@routes.get("/_admin/clock")
async def clock(request: web.Request) -> web.Response:
    emu = emulator(request)
    return _json({"now": emu.store.now(), "offset": emu.store.offset})


@routes.post("/_admin/customers/{id}/payment_behavior")
async def payment_behavior(request: web.Request) -> web.Response:
    emu = emulator(request)
    customer_id = request.match_info["id"]
    if emu.store.find("customer", customer_id) is None:
        return _json({"error": f"No such customer: '{customer_id}'"}, 404)
    fail = bool((await _body(request)).get("fail", False))
    if fail:
        emu.store.payment_failures[customer_id] = True
    else:
        emu.store.payment_failures.pop(customer_id, None)
    emu.dirty = True
    return _json({"customer": customer_id, "fail": fail})


@routes.post("/_admin/checkout/{id}/pay")
async def pay_checkout(request: web.Request) -> web.Response:
    emu = emulator(request)
    session = emu.store.find("checkout.session", request.match_info["id"])
    if session is None:
        return _json({"error": "No such checkout.session"}, 404)
    body = await _body(request)
    try:
        complete(
            emu,
            session,
            card=str(body.get("card", "4242424242424242")),
            expiry=str(body.get("expiry", "12/34")),
            cvc=str(body.get("cvc", "123")),
            email=str(body["email"]) if body.get("email") else None,
            name=str(body["name"]) if body.get("name") else None,
        )
    except StripeError as err:
        return _json(err.body(), err.status)
    emu.dirty = True
    return _json(objects.render(emu.store, "checkout.session", session))


@routes.post("/_admin/events/{id}/redeliver")
async def redeliver(request: web.Request) -> web.Response:
    emu = emulator(request)
    body = await _body(request)
    endpoint = body.get("endpoint")
    try:
        targets = emu.bus.redeliver(request.match_info["id"], str(endpoint) if endpoint else None)
    except StripeError as err:
        return _json(err.body(), err.status)
    return _json({"event": request.match_info["id"], "endpoints": targets})


@routes.get("/_admin/deliveries")
async def deliveries(request: web.Request) -> web.Response:
    emu = emulator(request)
    event, endpoint = request.query.get("event"), request.query.get("endpoint")
    rows = [
        asdict(a)
        for a in emu.bus.attempts
        if (event is None or a.event == event) and (endpoint is None or a.endpoint == endpoint)
    ]
    return _json({"deliveries": rows})


@routes.post("/_admin/rate_limit")
async def rate_limit(request: web.Request) -> web.Response:
    emu = emulator(request)
    body = await _body(request)
    rps = body.get("requests_per_second")
    burst = body.get("burst")
    emu.limiter.configure(
        float(rps) if isinstance(rps, int | float) else None,
        int(burst) if isinstance(burst, int) else None,
    )
    return _json({"requests_per_second": emu.limiter.rate, "burst": emu.limiter.burst})


@routes.get("/_admin/meter_event_stream/errors")
async def stream_errors(request: web.Request) -> web.Response:
    return _json({"errors": emulator(request).stream_errors})
