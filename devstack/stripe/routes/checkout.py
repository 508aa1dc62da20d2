"""Checkout Sessions (subscription and setup mode) and the hosted page that completes them.

The page at a session's ``url`` is plain HTML with a card form, so a browser, or a test
with httpx, pays exactly as a customer would: a good test card creates the customer,
subscription and paid first invoice and redirects to ``success_url``; a declining card
shows Stripe's decline message and leaves the session open.

Setup mode (``mode=setup``) saves a card for later without charging: the session has a
SetupIntent from creation; completing it attaches the card to the customer (created if
the session named none), the SetupIntent succeeds with that ``payment_method``, and
``setup_intent.succeeded`` then ``checkout.session.completed`` are sent. As at Stripe, the
card does not become the customer's default payment method: the integration sets it.
"""

from __future__ import annotations

import datetime as dt
import html
from importlib import resources
from string import Template

from aiohttp import web

from devstack.faults import operation
from devstack.stripe import objects
from devstack.stripe.billing import ItemSpec
from devstack.stripe.cards import DECLINES, luhn_ok, normalize
from devstack.stripe.context import Emulator
from devstack.stripe.errors import StripeError
from devstack.stripe.listing import created_filter
from devstack.stripe.middleware import json_response
from devstack.stripe.routes.common import (
    Params,
    emulator,
    params,
    path_id,
    respond,
    respond_list,
)
from devstack.stripe.store import Obj

routes = web.RouteTableDef()

SESSION_FIELDS = {
    "mode",
    "line_items",
    "customer",
    "customer_email",
    "client_reference_id",
    "success_url",
    "cancel_url",
    "metadata",
    "subscription_data",
    "expires_at",
    "payment_method_types",
    "allow_promotion_codes",
    "billing_address_collection",
    "locale",
    "ui_mode",
    "customer_update",
    "automatic_tax",
    "tax_id_collection",
    "consent_collection",
    "payment_method_collection",
    "custom_text",
    "phone_number_collection",
    "currency",
}


@routes.post("/v1/checkout/sessions")
@operation("checkout.sessions.create")
async def create_session(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    p.check_known(SESSION_FIELDS)
    mode = p.str("mode")
    if mode is None:
        raise StripeError("Missing required param: mode.", code="parameter_missing", param="mode")
    if mode == "setup":
        return _create_setup_session(request, emu, p)
    if mode != "subscription":
        raise StripeError(
            f"The local Stripe emulator supports Checkout in `subscription` and `setup` mode "
            f"only, not `{mode}`.",
            param="mode",
        )
    customer_id, email = p.str("customer"), p.str("customer_email")
    if customer_id and email:
        raise StripeError(
            "You may only specify one of these parameters: customer, customer_email.",
            param="customer",
        )
    customer = emu.store.get("customer", customer_id, "customer") if customer_id else None
    now = emu.store.now_for(customer_id)
    session = objects.checkout_session(now, emu.config.base_url)
    items = p.sublist("line_items")
    if not items:
        raise StripeError(
            "Missing required param: line_items.", code="parameter_missing", param="line_items"
        )
    specs = []
    for i, item in enumerate(items):
        price = emu.store.get("price", item.req("price"), f"line_items[{i}][price]")
        quantity = item.int("quantity")
        metered = (price.get("recurring") or {}).get("usage_type") == "metered"
        if metered and quantity is not None:
            raise StripeError(
                "Quantity should not be specified where usage_type is `metered`. Remove "
                f"quantity from `line_items[{i}]`.",
                param=f"line_items[{i}][quantity]",
            )
        if not metered and quantity is None:
            raise StripeError(
                f"Quantity is required. Add `quantity` to `line_items[{i}]`.",
                param=f"line_items[{i}][quantity]",
            )
        if quantity is not None and quantity < 1:
            raise StripeError("Quantity must be at least 1.", param=f"line_items[{i}][quantity]")
        specs.append(ItemSpec(price, quantity, {}))
        product = emu.store.find("product", price["product"])
        session["_line_items"].append(objects.checkout_item(price, product, quantity))
    if not any(s.price.get("type") == "recurring" for s in specs):
        raise StripeError(
            "You must provide at least one recurring price in `subscription` mode when using "
            "prices.",
            param="line_items",
        )
    emu.billing.validate_items(specs)
    expires_at = p.int("expires_at")
    if expires_at is not None:
        if expires_at > now + 86400:
            raise StripeError(
                "The `expires_at` timestamp must be less than 24 hours from Checkout Session "
                "creation.",
                param="expires_at",
            )
        if expires_at < now + 1800:
            raise StripeError(
                "The `expires_at` timestamp must be at least 30 minutes from Checkout Session "
                "creation.",
                param="expires_at",
            )
        session["expires_at"] = expires_at
    session["customer"] = customer["id"] if customer else None
    session["customer_email"] = email
    session["client_reference_id"] = p.str("client_reference_id")
    session["success_url"] = p.str("success_url")
    session["cancel_url"] = p.str("cancel_url")
    session["metadata"] = p.metadata()
    session["locale"] = p.str("locale")
    session["currency"] = specs[0].price["currency"]
    session["billing_address_collection"] = p.str("billing_address_collection")
    session["allow_promotion_codes"] = p.bool("allow_promotion_codes")
    if "payment_method_types" in p:
        session["payment_method_types"] = [str(x) for x in p.list("payment_method_types")]
    sub_data = p.sub("subscription_data")
    session["_subscription_data"] = {
        "metadata": sub_data.metadata() if sub_data else {},
        "description": sub_data.str("description") if sub_data else None,
    }
    total = sum(li["amount_total"] for li in session["_line_items"])
    session["amount_subtotal"] = session["amount_total"] = total
    emu.store.add("checkout.session", session)
    return respond(request, "checkout.session", session)


def _create_setup_session(request: web.Request, emu: Emulator, p: Params) -> web.Response:
    """``mode=setup``: no line items, nothing charged, a SetupIntent from the start."""
    if p.sublist("line_items"):
        raise StripeError("You can not pass `line_items` in `setup` mode.", param="line_items")
    customer_id, email = p.str("customer"), p.str("customer_email")
    if customer_id and email:
        raise StripeError(
            "You may only specify one of these parameters: customer, customer_email.",
            param="customer",
        )
    customer = emu.store.get("customer", customer_id, "customer") if customer_id else None
    currency = p.str("currency")
    if currency is None and "payment_method_types" not in p:
        raise StripeError(
            "You must provide `currency` or `payment_method_types` in `setup` mode.",
            param="currency",
        )
    now = emu.store.now_for(customer_id)
    session = objects.checkout_session(now, emu.config.base_url)
    intent = emu.store.add("setup_intent", objects.setup_intent(now, customer_id))
    intent["metadata"] = p.metadata()
    session.update(
        {
            "mode": "setup",
            "setup_intent": intent["id"],
            "payment_status": "no_payment_required",
            "amount_subtotal": None,
            "amount_total": None,
            "currency": currency.lower() if currency else None,
            "customer": customer["id"] if customer else None,
            "customer_email": email,
            "client_reference_id": p.str("client_reference_id"),
            "success_url": p.str("success_url"),
            "cancel_url": p.str("cancel_url"),
            "metadata": p.metadata(),
            "locale": p.str("locale"),
        }
    )
    if "payment_method_types" in p:
        session["payment_method_types"] = [str(x) for x in p.list("payment_method_types")]
    emu.store.add("checkout.session", session)
    return respond(request, "checkout.session", session)


def _session(request: web.Request) -> Obj:
    return emulator(request).store.get("checkout.session", path_id(request))


@routes.get("/v1/checkout/sessions/{id}")
@operation("checkout.sessions.retrieve")
async def get_session(request: web.Request) -> web.Response:
    return respond(request, "checkout.session", _session(request))


@routes.get("/v1/checkout/sessions/{id}/line_items")
@operation("checkout.sessions.line_items")
async def session_line_items(request: web.Request) -> web.Response:
    emu = emulator(request)
    return json_response(objects.checkout_line_items(emu.store, _session(request)))


@routes.post("/v1/checkout/sessions/{id}/expire")
@operation("checkout.sessions.expire")
async def expire_session(request: web.Request) -> web.Response:
    emu = emulator(request)
    session = _session(request)
    if session["status"] != "open":
        raise StripeError(
            'Only Checkout Sessions with a status in ["open"] can be expired.',
            param="session",
        )
    expire(emu, session)
    return respond(request, "checkout.session", session)


def expire(emu: Emulator, session: Obj) -> None:
    session["status"] = "expired"
    session["url"] = None
    emu.billing.emit(
        "checkout.session.expired", "checkout.session", session, customer=session["customer"]
    )


@routes.get("/v1/checkout/sessions")
@operation("checkout.sessions.list")
async def list_sessions(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    customer, sub, status = p.str("customer"), p.str("subscription"), p.str("status")
    created = created_filter(p)
    details = p.sub("customer_details")
    email = details.str("email") if details else None
    items = [
        s
        for s in emu.store.all("checkout.session")
        if (customer is None or s["customer"] == customer)
        and (sub is None or s["subscription"] == sub)
        and (status is None or s["status"] == status)
        and (email is None or (s["customer_details"] or {}).get("email") == email)
        and created(s["created"])
    ]
    return respond_list(request, "checkout.session", items, "/v1/checkout/sessions")


# -- completing a session -----------------------------------------------------------------


def parse_expiry(text: str) -> tuple[int, int] | None:
    digits = [part for part in text.replace("/", " ").split() if part]
    if len(digits) == 1 and len(digits[0]) == 4:
        digits = [digits[0][:2], digits[0][2:]]
    if len(digits) != 2 or not all(d.isdigit() for d in digits):
        return None
    month, year = int(digits[0]), int(digits[1])
    year += 2000 if year < 100 else 0
    return (month, year) if 1 <= month <= 12 else None


def complete(
    emu: Emulator,
    session: Obj,
    *,
    card: str,
    expiry: str = "12/34",
    cvc: str = "123",
    email: str | None = None,
    name: str | None = None,
) -> Obj:
    """Pays a session with a card as the hosted page does; raises a card error on decline."""
    if session["status"] != "open":
        raise StripeError(
            f"This Checkout Session is no longer active (status: {session['status']}).",
            code="checkout_session_inactive" if session["status"] == "expired" else None,
        )
    number = normalize(card)
    if not luhn_ok(number):
        raise StripeError(
            "Your card number is invalid.",
            status=402,
            type="card_error",
            code="invalid_number",
            param="number",
        )
    parsed = parse_expiry(expiry)
    today = dt.datetime.now(dt.UTC)
    if parsed is None:
        raise StripeError(
            "Your card's expiration date is incomplete.",
            status=402,
            type="card_error",
            code="invalid_expiry_month",
            param="exp_month",
        )
    if (parsed[1], parsed[0]) < (today.year, today.month):
        raise StripeError(
            "Your card's expiration year is in the past.",
            status=402,
            type="card_error",
            code="invalid_expiry_year",
            param="exp_year",
        )
    if not cvc.isdigit() or len(cvc) not in (3, 4):
        raise StripeError(
            "Your card's security code is incomplete.",
            status=402,
            type="card_error",
            code="incomplete_cvc",
            param="cvc",
        )
    customer = emu.store.find("customer", session["customer"] or "")
    decline = DECLINES.get(number)
    if decline is None and customer is not None and emu.store.payment_failures.get(customer["id"]):
        decline = DECLINES["4000000000000002"]
    if decline is not None:
        raise StripeError(
            decline.message,
            status=402,
            type="card_error",
            code=decline.code,
            decline_code=decline.decline_code,
        )
    email = email or session["customer_email"] or (customer or {}).get("email")
    created_customer = customer is None
    if customer is None:
        customer = objects.customer(emu.store.now())
        customer["email"], customer["name"] = email, name or None
        emu.store.add("customer", customer)
        emu.billing.emit("customer.created", "customer", customer, customer=customer["id"])
    now = emu.store.now_for(customer["id"])
    pm = objects.payment_method(now, number, parsed[0], parsed[1])
    pm["customer"] = customer["id"]
    pm["billing_details"]["email"], pm["billing_details"]["name"] = email, name or None
    emu.store.add("payment_method", pm)
    emu.billing.emit("payment_method.attached", "payment_method", pm, customer=customer["id"])
    details: Obj = {
        "address": dict(objects.ADDRESS_NULL),
        "business_name": None,
        "email": email,
        "individual_name": None,
        "name": name or None,
        "phone": None,
        "tax_exempt": "none",
        "tax_ids": [],
    }
    if session["mode"] == "setup":
        return _complete_setup(emu, session, customer, pm, details, created_customer)
    if customer["invoice_settings"]["default_payment_method"] is None:
        customer["invoice_settings"]["default_payment_method"] = pm["id"]
    specs = [
        ItemSpec(emu.store.get("price", li["price"]), li["quantity"], {})
        for li in session["_line_items"]
    ]
    data = session["_subscription_data"]
    sub, invoice = emu.billing.create_subscription(
        customer,
        specs,
        metadata=dict(data["metadata"]),
        description=data["description"],
        default_payment_method=pm["id"],
    )
    session.update(
        {
            "status": "complete",
            "payment_status": "paid",
            "customer": customer["id"],
            "customer_creation": "always" if created_customer else None,
            "subscription": sub["id"],
            "invoice": invoice["id"],
            "url": None,
            "customer_details": details,
        }
    )
    emu.billing.emit(
        "checkout.session.completed", "checkout.session", session, customer=customer["id"]
    )
    return session


def _complete_setup(
    emu: Emulator, session: Obj, customer: Obj, pm: Obj, details: Obj, created_customer: bool
) -> Obj:
    """Setup mode: the card is saved on the customer and the SetupIntent succeeds."""
    intent = emu.store.get("setup_intent", session["setup_intent"])
    intent.update({"status": "succeeded", "payment_method": pm["id"], "customer": customer["id"]})
    session.update(
        {
            "status": "complete",
            "customer": customer["id"],
            "customer_creation": "always" if created_customer else None,
            "url": None,
            "customer_details": details,
        }
    )
    emu.billing.emit("setup_intent.succeeded", "setup_intent", intent, customer=customer["id"])
    emu.billing.emit(
        "checkout.session.completed", "checkout.session", session, customer=customer["id"]
    )
    return session


# -- the hosted page -------------------------------------------------------------------------

_TEMPLATE = Template(
    resources.files("devstack.stripe").joinpath("checkout_page.html").read_text("utf-8")
)


def _money(amount: int, currency: str) -> str:
    return f"{amount / 100:,.2f} {currency.upper()}"


def render_page(emu: Emulator, session: Obj, error: str = "", email: str = "") -> str:
    lines = []
    for li in session["_line_items"]:
        price = emu.store.find("price", li["price"]) or {}
        recurring = price.get("recurring") or {}
        per = f" / {recurring.get('interval', '')}" if recurring else ""
        if recurring.get("usage_type") == "metered":
            unit = price.get("unit_amount_decimal") or "0"
            currency = str(price.get("currency", "")).upper()
            text = f"{float(unit) / 100:g} {currency} per unit, billed by usage"
        else:
            text = _money(li["amount_total"], li["currency"]) + per
        qty = f" x {li['quantity']}" if li["quantity"] else ""
        lines.append(
            f'<tr class="line-item"><td>{html.escape(li["description"] or "")}{qty}</td>'
            f"<td>{html.escape(text)}</td></tr>"
        )
    cancel = (
        f'<p><a href="{html.escape(session["cancel_url"])}" id="cancel">← Back</a></p>'
        if session["cancel_url"]
        else ""
    )
    return _TEMPLATE.substitute(
        business="Tenantry devstack",
        lines="\n".join(lines),
        total=html.escape(
            "saved for later payments, nothing is charged now"
            if session["mode"] == "setup"
            else _money(session["amount_total"] or 0, session["currency"] or "usd")
        ),
        cancel=cancel,
        session_id=html.escape(session["id"]),
        email=html.escape(email or session["customer_email"] or ""),
        error=html.escape(error),
    )


def _closed_page(session: Obj) -> str:
    state = "completed" if session["status"] == "complete" else "expired"
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Checkout</title></head><body>"
        f"<h1>This Checkout Session is no longer active</h1><p id='state'>{state}</p>"
        "</body></html>"
    )


@routes.get("/checkout/{id}")
@operation("checkout.page")
async def checkout_page(request: web.Request) -> web.Response:
    emu = emulator(request)
    session = emu.store.find("checkout.session", path_id(request))
    if session is None:
        return web.Response(text="<h1>Not found</h1>", status=404, content_type="text/html")
    if session["status"] != "open":
        return web.Response(text=_closed_page(session), status=410, content_type="text/html")
    return web.Response(text=render_page(emu, session), content_type="text/html")


@routes.post("/checkout/{id}")
@operation("checkout.page.pay")
async def checkout_pay(request: web.Request) -> web.Response:
    emu = emulator(request)
    session = emu.store.find("checkout.session", path_id(request))
    if session is None:
        return web.Response(text="<h1>Not found</h1>", status=404, content_type="text/html")
    if session["status"] != "open":
        return web.Response(text=_closed_page(session), status=410, content_type="text/html")
    form = await request.post()
    field = {k: str(v) for k, v in form.items()}
    try:
        complete(
            emu,
            session,
            card=field.get("card_number", ""),
            expiry=field.get("card_expiry", ""),
            cvc=field.get("card_cvc", ""),
            email=field.get("email") or None,
            name=field.get("billing_name") or None,
        )
    except StripeError as err:
        page = render_page(emu, session, error=err.message, email=field.get("email", ""))
        return web.Response(text=page, status=402, content_type="text/html")
    emu.dirty = True
    success = session["success_url"]
    if success:
        raise web.HTTPSeeOther(success.replace("{CHECKOUT_SESSION_ID}", session["id"]))
    return web.Response(
        text="<!doctype html><html><body><h1>Thanks, you are all set</h1></body></html>",
        content_type="text/html",
    )
