"""Refunds: create (by PaymentIntent), retrieve and list.

Creates are idempotent through the middleware's ``Idempotency-Key`` handling, as every
other create of the emulator; each refund emits ``refund.created``.
"""

from __future__ import annotations

from aiohttp import web

from devstack.faults import operation
from devstack.stripe import refunds
from devstack.stripe.errors import StripeError, no_such
from devstack.stripe.routes.common import emulator, params, path_id, respond, respond_list
from devstack.stripe.store import Obj

routes = web.RouteTableDef()

REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def _intent_of_charge(request: web.Request, charge_id: str) -> Obj:
    for intent in emulator(request).store.all("payment_intent"):
        if intent.get("latest_charge") == charge_id:
            return intent
    raise no_such("charge", charge_id, "charge")


@routes.post("/v1/refunds")
@operation("refunds.create")
async def create_refund(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    p.check_known({"payment_intent", "charge", "amount", "reason", "metadata"})
    pi_id, charge_id = p.str("payment_intent"), p.str("charge")
    if (pi_id is None) == (charge_id is None):
        raise StripeError(
            "You must pass exactly one of `charge` or `payment_intent`.", param="payment_intent"
        )
    if pi_id is not None:
        intent = emu.store.get("payment_intent", pi_id, "payment_intent")
    else:
        assert charge_id is not None
        intent = _intent_of_charge(request, charge_id)
    reason = p.choice("reason", REASONS)
    customer = intent.get("customer")
    refund = refunds.create(
        emu.store,
        intent,
        p.int("amount"),
        reason,
        p.metadata(),
        emu.store.now_for(customer),
    )
    emu.billing.emit("refund.created", "refund", refund, customer=customer)
    return respond(request, "refund", refund)


@routes.get("/v1/refunds/{id}")
@operation("refunds.retrieve")
async def get_refund(request: web.Request) -> web.Response:
    refund = emulator(request).store.get("refund", path_id(request))
    return respond(request, "refund", refund)


@routes.get("/v1/refunds")
@operation("refunds.list")
async def list_refunds(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    pi_id, charge_id = p.str("payment_intent"), p.str("charge")
    items = [
        r
        for r in emu.store.all("refund")
        if (pi_id is None or r["payment_intent"] == pi_id)
        and (charge_id is None or r["charge"] == charge_id)
    ]
    return respond_list(request, "refund", items, "/v1/refunds")
