"""Subscriptions, subscription items and invoices."""

from __future__ import annotations

import html

from aiohttp import web

from devstack.faults import operation
from devstack.stripe import objects
from devstack.stripe.billing import ItemSpec
from devstack.stripe.context import Emulator
from devstack.stripe.errors import StripeError, missing
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

PRORATION = ("create_prorations", "always_invoice", "none")


def _sub(request: web.Request) -> Obj:
    return emulator(request).store.get("subscription", path_id(request))


def _spec(emu: Emulator, item: Params) -> ItemSpec:
    price = emu.store.get("price", item.req("price"), item.name("price"))
    return ItemSpec(price, item.int("quantity"), item.metadata())


@routes.post("/v1/subscriptions")
@operation("subscriptions.create")
async def create_subscription(request: web.Request) -> web.Response:
    """Creates a subscription charged to the customer's default card (no trial support)."""
    emu, p = emulator(request), params(request)
    p.check_known(
        {
            "customer",
            "items",
            "metadata",
            "description",
            "cancel_at_period_end",
            "default_payment_method",
            "payment_behavior",
            "collection_method",
            "proration_behavior",
            "off_session",
            "payment_settings",
            "backdate_start_date",
            "billing_cycle_anchor",
        }
    )
    customer = emu.store.get("customer", p.req("customer"), "customer")
    specs = [_spec(emu, item) for item in p.sublist("items")]
    pm = p.str("default_payment_method")
    if pm:
        emu.store.get("payment_method", pm, "default_payment_method")
    sub, _ = emu.billing.create_subscription(
        customer,
        specs,
        metadata=p.metadata(),
        description=p.str("description"),
        cancel_at_period_end=bool(p.bool("cancel_at_period_end", False)),
        default_payment_method=pm,
        backdate_start_date=p.int("backdate_start_date"),
        billing_cycle_anchor=p.int("billing_cycle_anchor"),
    )
    if sub["status"] == "incomplete" and p.str("payment_behavior") == "error_if_incomplete":
        decline = emu.store.get("invoice", sub["latest_invoice"]).get("_decline") or {}
        raise StripeError(
            decline.get("message", "Your card was declined."),
            status=402,
            type="card_error",
            code=decline.get("code", "card_declined"),
            decline_code=decline.get("decline_code"),
        )
    return respond(request, "subscription", sub)


@routes.get("/v1/subscriptions/{id}")
@operation("subscriptions.retrieve")
async def get_subscription(request: web.Request) -> web.Response:
    return respond(request, "subscription", _sub(request))


@routes.get("/v1/subscriptions")
@operation("subscriptions.list")
async def list_subscriptions(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    customer, price, status = p.str("customer"), p.str("price"), p.str("status")
    clock = p.str("test_clock")
    created = created_filter(p)

    def status_ok(sub: Obj) -> bool:
        if status == "all":
            return True
        if status is None:
            return sub["status"] not in ("canceled", "incomplete_expired")
        if status == "ended":
            return sub["status"] in ("canceled", "incomplete_expired")
        return bool(sub["status"] == status)

    items = [
        s
        for s in emu.store.all("subscription")
        if (customer is None or s["customer"] == customer)
        and (clock is None or s["test_clock"] == clock)
        and (
            price is None
            or any(emu.store.get("subscription_item", i)["price"] == price for i in s["_items"])
        )
        and status_ok(s)
        and created(s["created"])
    ]
    return respond_list(request, "subscription", items, "/v1/subscriptions")


@routes.post("/v1/subscriptions/{id}")
@operation("subscriptions.update")
async def update_subscription(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    p.check_known(
        {
            "items",
            "metadata",
            "cancel_at_period_end",
            "proration_behavior",
            "proration_date",
            "description",
            "default_payment_method",
            "cancel_at",
            "payment_behavior",
            "cancellation_details",
            "billing_cycle_anchor",
        }
    )
    sub = _sub(request)
    billing = emu.billing
    if sub["status"] in ("canceled", "incomplete_expired") and (
        set(p.data) - {"metadata", "cancellation_details", "expand"}
    ):
        raise StripeError(
            "A canceled subscription can only update its cancellation_details and metadata."
        )
    before = billing.render_sub(sub)
    behavior = p.choice("proration_behavior", PRORATION, "create_prorations")
    now = emu.store.now_for(sub["customer"])
    at = p.int("proration_date", now)
    assert at is not None
    changes = p.sublist("items")
    for change in changes:
        _apply_item_change(emu, sub, change, behavior, at, now)
    if "metadata" in p:
        sub["metadata"] = p.metadata(sub["metadata"])
    if "description" in p:
        sub["description"] = p.str("description") or None
    if "default_payment_method" in p:
        pm = p.str("default_payment_method") or None
        if pm:
            emu.store.get("payment_method", pm, "default_payment_method")
        sub["default_payment_method"] = pm
    if "cancel_at_period_end" in p:
        flag = bool(p.bool("cancel_at_period_end"))
        sub["cancel_at_period_end"] = flag
        sub["cancel_at"] = billing.period_end(sub) if flag else None
        sub["canceled_at"] = now if flag else None
        sub["cancellation_details"]["reason"] = "cancellation_requested" if flag else None
    if "cancel_at" in p:
        cancel_at = p.int("cancel_at")
        sub["cancel_at"] = cancel_at
        sub["cancel_at_period_end"] = False
    details = p.sub("cancellation_details")
    if details is not None:
        for key in ("comment", "feedback"):
            if key in details:
                sub["cancellation_details"][key] = details.str(key) or None
    if behavior == "always_invoice" and changes:
        billing.invoice_now(sub)
    after = billing.render_sub(sub)
    previous = {k: v for k, v in before.items() if after.get(k) != v}
    if previous:
        billing.emit(
            "customer.subscription.updated", "subscription", sub, previous, customer=sub["customer"]
        )
    billing.advance(sub["test_clock"])
    return respond(request, "subscription", sub)


def _apply_item_change(
    emu: Emulator, sub: Obj, change: Params, behavior: str | None, at: int, now: int
) -> None:
    billing = emu.billing
    item_id = change.str("id")
    if item_id:
        item = emu.store.get("subscription_item", item_id, change.name("id"))
        if item["subscription"] != sub["id"]:
            raise StripeError(
                f"The subscription item {item_id} does not belong to this subscription.",
                param=change.name("id"),
            )
        if change.bool("deleted", False):
            _delete_item(emu, sub, item, behavior, at)
            return
        old_price = emu.store.get("price", item["price"])
        new_price = old_price
        if "price" in change:
            new_price = emu.store.get("price", change.req("price"), change.name("price"))
            billing.validate_items(
                [
                    ItemSpec(emu.store.get("price", i["price"]), None, {})
                    for i in billing.items(sub)
                    if i["id"] != item["id"]
                ]
                + [ItemSpec(new_price, None, {})]
            )
        old_qty = item["quantity"]
        new_qty = change.int("quantity", old_qty)
        if billing.is_metered(new_price):
            new_qty = None
        elif new_qty is None:
            new_qty = 1
        if (new_price["id"], new_qty) != (old_price["id"], old_qty) and behavior != "none":
            billing.prorate(sub, item, old_price, old_qty, new_price, new_qty, at)
        item["price"], item["quantity"] = new_price["id"], new_qty
        item["metadata"] = change.metadata(item["metadata"])
        return
    if "price" not in change:
        raise missing(change.name("price"))
    spec = ItemSpec(
        emu.store.get("price", change.req("price"), change.name("price")),
        change.int("quantity"),
        change.metadata(),
    )
    billing.validate_items(
        [ItemSpec(emu.store.get("price", i["price"]), None, {}) for i in billing.items(sub)]
        + [spec]
    )
    item = billing.add_item(sub, spec, now, billing.period_end(sub))
    if behavior != "none":
        billing.prorate(sub, item, None, None, spec.price, item["quantity"], at)


def _delete_item(emu: Emulator, sub: Obj, item: Obj, behavior: str | None, at: int) -> None:
    if len(sub["_items"]) <= 1:
        raise StripeError(
            "A subscription must have at least one active plan. To cancel a subscription, "
            "please use the cancel API endpoint on /v1/subscriptions.",
        )
    if behavior != "none":
        price = emu.store.get("price", item["price"])
        emu.billing.prorate(sub, item, price, item["quantity"], None, None, at)
    sub["_items"].remove(item["id"])
    item["_deleted"] = True


@routes.delete("/v1/subscriptions/{id}")
@operation("subscriptions.cancel")
async def cancel_subscription(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    p.check_known({"invoice_now", "prorate", "cancellation_details"})
    sub = _sub(request)
    if sub["status"] in ("canceled", "incomplete_expired"):
        raise StripeError(
            f"No such subscription: '{sub['id']}'",
            status=404,
            code="resource_missing",
            param="id",
        )
    details = p.sub("cancellation_details")
    if details is not None:
        sub["cancellation_details"]["comment"] = details.str("comment")
        sub["cancellation_details"]["feedback"] = details.str("feedback")
    emu.billing.cancel(
        sub,
        at=emu.store.now_for(sub["customer"]),
        reason="cancellation_requested",
        invoice_now=bool(p.bool("invoice_now", False)),
        prorate=bool(p.bool("prorate", False)),
    )
    return respond(request, "subscription", sub)


# -- subscription items ------------------------------------------------------------------------


def _item(request: web.Request) -> Obj:
    item = emulator(request).store.get("subscription_item", path_id(request))
    if item.get("_deleted"):
        raise StripeError(
            f"No such subscription item: '{item['id']}'",
            status=404,
            code="resource_missing",
            param="id",
        )
    return item


def _changed(emu: Emulator, sub: Obj, before: Obj) -> None:
    after = emu.billing.render_sub(sub)
    previous = {k: v for k, v in before.items() if after.get(k) != v}
    if previous:
        emu.billing.emit(
            "customer.subscription.updated", "subscription", sub, previous, customer=sub["customer"]
        )


@routes.post("/v1/subscription_items")
@operation("subscription_items.create")
async def create_item(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    p.check_known(
        {
            "subscription",
            "price",
            "quantity",
            "metadata",
            "proration_behavior",
            "proration_date",
            "payment_behavior",
        }
    )
    sub = emu.store.get("subscription", p.req("subscription"), "subscription")
    before = emu.billing.render_sub(sub)
    behavior = p.choice("proration_behavior", PRORATION, "create_prorations")
    now = emu.store.now_for(sub["customer"])
    change = Params({k: v for k, v in p.data.items() if k in ("price", "quantity", "metadata")})
    _apply_item_change(emu, sub, change, behavior, p.int("proration_date", now) or now, now)
    if behavior == "always_invoice":
        emu.billing.invoice_now(sub)
    _changed(emu, sub, before)
    return respond(
        request, "subscription_item", emu.store.get("subscription_item", sub["_items"][-1])
    )


@routes.get("/v1/subscription_items/{id}")
@operation("subscription_items.retrieve")
async def get_item(request: web.Request) -> web.Response:
    return respond(request, "subscription_item", _item(request))


@routes.post("/v1/subscription_items/{id}")
@operation("subscription_items.update")
async def update_item(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    p.check_known(
        {
            "price",
            "quantity",
            "metadata",
            "proration_behavior",
            "proration_date",
            "payment_behavior",
            "off_session",
        }
    )
    item = _item(request)
    sub = emu.store.get("subscription", item["subscription"])
    before = emu.billing.render_sub(sub)
    behavior = p.choice("proration_behavior", PRORATION, "create_prorations")
    now = emu.store.now_for(sub["customer"])
    change = Params(
        {
            **{k: v for k, v in p.data.items() if k in ("price", "quantity", "metadata")},
            "id": item["id"],
        }
    )
    _apply_item_change(emu, sub, change, behavior, p.int("proration_date", now) or now, now)
    if behavior == "always_invoice":
        emu.billing.invoice_now(sub)
    _changed(emu, sub, before)
    return respond(request, "subscription_item", item)


@routes.delete("/v1/subscription_items/{id}")
@operation("subscription_items.delete")
async def delete_item(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    p.check_known({"proration_behavior", "proration_date", "clear_usage"})
    item = _item(request)
    sub = emu.store.get("subscription", item["subscription"])
    before = emu.billing.render_sub(sub)
    behavior = p.choice("proration_behavior", PRORATION, "create_prorations")
    now = emu.store.now_for(sub["customer"])
    _delete_item(emu, sub, item, behavior, p.int("proration_date", now) or now)
    if behavior == "always_invoice":
        emu.billing.invoice_now(sub)
    _changed(emu, sub, before)
    return deleted(item["id"], "subscription_item")


@routes.get("/v1/subscription_items")
@operation("subscription_items.list")
async def list_items(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    sub_id = p.str("subscription")
    if not sub_id:
        raise missing("subscription")
    sub = emu.store.get("subscription", sub_id, "subscription")
    items = [emu.store.get("subscription_item", i) for i in sub["_items"]]
    return respond_list(
        request, "subscription_item", items, f"/v1/subscription_items?subscription={sub_id}"
    )


# -- invoices -------------------------------------------------------------------------------


def _invoice(request: web.Request) -> Obj:
    return emulator(request).store.get("invoice", path_id(request))


@routes.get("/v1/invoices/{id}")
@operation("invoices.retrieve")
async def get_invoice(request: web.Request) -> web.Response:
    return respond(request, "invoice", _invoice(request))


@routes.get("/v1/invoices/{id}/lines")
@operation("invoices.lines")
async def invoice_lines(request: web.Request) -> web.Response:
    from devstack.stripe.listing import paginate
    from devstack.stripe.middleware import json_response

    invoice = _invoice(request)
    lines = invoice["lines"]["data"]
    ordered = [dict(line, _seq=-i) for i, line in enumerate(lines)]
    page = paginate(
        params(request),
        ordered,
        f"/v1/invoices/{invoice['id']}/lines",
        objects.public,
        order=lambda o: o["_seq"],
    )
    return json_response(page)


@routes.get("/v1/invoices")
@operation("invoices.list")
async def list_invoices(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    customer, sub, status = p.str("customer"), p.str("subscription"), p.str("status")
    created = created_filter(p)
    items = [
        i
        for i in emu.store.all("invoice")
        if (customer is None or i["customer"] == customer)
        and (sub is None or i["subscription"] == sub)
        and (status is None or i["status"] == status)
        and created(i["created"])
    ]
    return respond_list(request, "invoice", items, "/v1/invoices")


@routes.post("/v1/invoices/{id}/pay")
@operation("invoices.pay")
async def pay_invoice(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    p.check_known(
        {"payment_method", "off_session", "paid_out_of_band", "forgive", "source", "mandate"}
    )
    invoice = _invoice(request)
    pm = p.str("payment_method")
    if pm:
        emu.store.get("payment_method", pm, "payment_method")
        sub = emu.store.find("subscription", invoice.get("subscription") or "")
        if sub is not None:
            sub["default_payment_method"] = pm
    if p.bool("paid_out_of_band", False):
        emu.billing.mark_paid(invoice, emu.store.now_for(invoice["customer"]))
    else:
        emu.billing.pay(invoice)
    return respond(request, "invoice", invoice)


@routes.get("/invoice/{id}")
@operation("invoices.page")
async def invoice_page(request: web.Request) -> web.Response:
    emu = emulator(request)
    invoice = emu.store.find("invoice", path_id(request))
    if invoice is None:
        return web.Response(text="<h1>Not found</h1>", status=404, content_type="text/html")
    rows = "".join(
        f"<tr><td>{html.escape(line['description'] or '')}</td>"
        f"<td>{line['amount'] / 100:,.2f}</td></tr>"
        for line in invoice["lines"]["data"]
    )
    body = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Invoice</title></head><body>"
        f"<h1>Invoice {html.escape(invoice['number'] or invoice['id'])}</h1>"
        f"<p id='status'>{html.escape(invoice['status'])}</p><table>{rows}</table>"
        f"<p>Total: {invoice['total'] / 100:,.2f} {invoice['currency'].upper()}</p>"
        "</body></html>"
    )
    return web.Response(text=body, content_type="text/html")
