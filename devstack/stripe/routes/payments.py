"""PaymentIntents and invoice payments (read-only), and attaching a card to a customer.

The emulator makes PaymentIntents only for invoices (see :mod:`devstack.stripe.payments`);
these routes let a client follow ``invoice.payments`` to the PaymentIntent, as with Stripe.
"""

from __future__ import annotations

from aiohttp import web

from devstack.faults import operation
from devstack.stripe import payment_methods
from devstack.stripe.routes.common import emulator, params, path_id, respond, respond_list

routes = web.RouteTableDef()


@routes.get("/v1/payment_intents/{id}")
@operation("payment_intents.retrieve")
async def get_payment_intent(request: web.Request) -> web.Response:
    intent = emulator(request).store.get("payment_intent", path_id(request))
    return respond(request, "payment_intent", intent)


@routes.get("/v1/payment_intents")
@operation("payment_intents.list")
async def list_payment_intents(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    customer = p.str("customer")
    items = [
        i for i in emu.store.all("payment_intent") if customer is None or i["customer"] == customer
    ]
    return respond_list(request, "payment_intent", items, "/v1/payment_intents")


@routes.get("/v1/invoice_payments/{id}")
@operation("invoice_payments.retrieve")
async def get_invoice_payment(request: web.Request) -> web.Response:
    payment = emulator(request).store.get("invoice_payment", path_id(request))
    return respond(request, "invoice_payment", payment)


@routes.get("/v1/invoice_payments")
@operation("invoice_payments.list")
async def list_invoice_payments(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    invoice = p.str("invoice")
    items = [
        i for i in emu.store.all("invoice_payment") if invoice is None or i["invoice"] == invoice
    ]
    return respond_list(request, "invoice_payment", items, "/v1/invoice_payments")


@routes.post("/v1/payment_methods/{id}/attach")
@operation("payment_methods.attach")
async def attach_payment_method(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    p.check_known({"customer"})
    customer = emu.store.get("customer", p.req("customer"), "customer")
    now = emu.store.now_for(customer["id"])
    pm = payment_methods.attach(emu.store, path_id(request), customer["id"], "id", now)
    emu.billing.emit("payment_method.attached", "payment_method", pm, customer=customer["id"])
    return respond(request, "payment_method", pm)
