"""The customer portal: ``POST /v1/billing_portal/sessions`` and the page at its ``url``.

Stripe's hosted portal lets a customer see their invoices and change the card future
invoices are charged to; this page does both with plain HTML (a browser, or a test with
httpx, uses it as a customer would). A new card is attached and becomes the customer's
default payment method (``payment_method.attached``, ``customer.updated``); open invoices
link to their hosted invoice page. SetupIntents are readable at
``GET /v1/setup_intents/{id}`` (Checkout in setup mode makes them).
"""

from __future__ import annotations

import datetime as dt
import html

from aiohttp import web

from devstack.faults import operation
from devstack.stripe import objects
from devstack.stripe.cards import luhn_ok, normalize
from devstack.stripe.context import Emulator
from devstack.stripe.errors import StripeError
from devstack.stripe.payment_methods import attach
from devstack.stripe.routes.checkout import parse_expiry
from devstack.stripe.routes.common import emulator, params, path_id, respond
from devstack.stripe.store import Obj

routes = web.RouteTableDef()

PORTAL_FIELDS = {"customer", "return_url", "configuration", "locale", "on_behalf_of", "flow_data"}
PORTAL_TTL = 5 * 60  # Stripe: a portal session's URL is short-lived


@routes.post("/v1/billing_portal/sessions")
@operation("billing_portal.sessions.create")
async def create_portal_session(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    p.check_known(PORTAL_FIELDS)
    customer = emu.store.get("customer", p.req("customer"), "customer")
    if customer.get("_deleted"):
        raise StripeError(f"No such customer: '{customer['id']}'", status=404, param="customer")
    session = objects.billing_portal_session(
        emu.store.now_for(customer["id"]), emu.config.base_url, customer["id"], p.str("return_url")
    )
    session["locale"] = p.str("locale")
    emu.store.add("billing_portal.session", session)
    return respond(request, "billing_portal.session", session)


@routes.get("/v1/setup_intents/{id}")
@operation("setup_intents.retrieve")
async def get_setup_intent(request: web.Request) -> web.Response:
    intent = emulator(request).store.get("setup_intent", path_id(request))
    return respond(request, "setup_intent", intent)


def _portal(emu: Emulator, session_id: str) -> Obj | None:
    session = emu.store.find("billing_portal.session", session_id)
    if session is None or emu.store.now() > session["created"] + PORTAL_TTL + 3600:
        return None
    return session


def _money(amount: int, currency: str) -> str:
    return f"{amount / 100:,.2f} {currency.upper()}"


def render_portal(emu: Emulator, session: Obj, message: str = "", error: str = "") -> str:
    customer = emu.store.get("customer", session["customer"])
    invoices = sorted(
        (i for i in emu.store.all("invoice") if i["customer"] == customer["id"]),
        key=lambda i: i["created"],
        reverse=True,
    )
    rows = []
    for inv in invoices:
        when = dt.datetime.fromtimestamp(inv["created"], dt.UTC).strftime("%Y-%m-%d")
        link = inv.get("hosted_invoice_url") or ""
        rows.append(
            f'<tr class="invoice" id="{html.escape(inv["id"])}"><td>{when}</td>'
            f"<td>{html.escape(inv['number'] or inv['id'])}</td>"
            f'<td class="status">{html.escape(inv["status"])}</td>'
            f"<td>{html.escape(_money(inv['total'], inv['currency']))}</td>"
            f'<td><a href="{html.escape(link)}">view</a></td></tr>'
        )
    pm_id = customer["invoice_settings"]["default_payment_method"]
    pm = emu.store.find("payment_method", pm_id) if pm_id else None
    card = f"{pm['card']['brand']} ending in {pm['card']['last4']}" if pm is not None else "no card"
    back = (
        f'<p><a id="return" href="{html.escape(session["return_url"])}">Return</a></p>'
        if session["return_url"]
        else ""
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Billing</title></head><body>"
        f"<h1>Billing for {html.escape(customer.get('email') or customer['id'])}</h1>"
        f"<p id='message'>{html.escape(message)}</p><p id='error'>{html.escape(error)}</p>"
        f"<h2>Payment method</h2><p id='card'>{html.escape(card)}</p>"
        f'<form method="post" action="/billing_portal/{html.escape(session["id"])}/card">'
        '<input name="card_number" placeholder="1234 1234 1234 1234">'
        '<input name="card_expiry" placeholder="MM / YY"><input name="card_cvc" placeholder="CVC">'
        '<button type="submit">Update card</button></form>'
        f"<h2>Invoices</h2><table id='invoices'>{''.join(rows)}</table>{back}</body></html>"
    )


@routes.get("/billing_portal/{id}")
@operation("billing_portal.page")
async def portal_page(request: web.Request) -> web.Response:
    emu = emulator(request)
    session = _portal(emu, path_id(request))
    if session is None:
        return web.Response(text="<h1>Session expired</h1>", status=404, content_type="text/html")
    return web.Response(text=render_portal(emu, session), content_type="text/html")


@routes.post("/billing_portal/{id}/card")
@operation("billing_portal.page.card")
async def portal_card(request: web.Request) -> web.Response:
    emu = emulator(request)
    session = _portal(emu, path_id(request))
    if session is None:
        return web.Response(text="<h1>Session expired</h1>", status=404, content_type="text/html")
    form = {k: str(v) for k, v in (await request.post()).items()}
    number = normalize(form.get("card_number", ""))
    expiry = parse_expiry(form.get("card_expiry", ""))
    if not luhn_ok(number) or expiry is None:
        page = render_portal(emu, session, error="Your card number or expiry is invalid.")
        return web.Response(text=page, status=402, content_type="text/html")
    customer_id = session["customer"]
    now = emu.store.now_for(customer_id)
    pm = emu.store.add("payment_method", objects.payment_method(now, number, *expiry))
    try:
        attach(emu.store, pm["id"], customer_id, "card_number", now)
    except StripeError as err:
        page = render_portal(emu, session, error=err.message)
        return web.Response(text=page, status=402, content_type="text/html")
    customer = emu.store.get("customer", customer_id)
    previous = {"invoice_settings": dict(customer["invoice_settings"])}
    customer["invoice_settings"]["default_payment_method"] = pm["id"]
    emu.billing.emit("payment_method.attached", "payment_method", pm, customer=customer_id)
    emu.billing.emit("customer.updated", "customer", customer, previous, customer=customer_id)
    emu.dirty = True
    page = render_portal(emu, session, message="Your card was updated.")
    return web.Response(text=page, content_type="text/html")
