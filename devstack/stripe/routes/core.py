"""Customers, products, prices and payment methods."""

from __future__ import annotations

import re

from aiohttp import web

from devstack.faults import operation
from devstack.stripe import objects, payment_methods
from devstack.stripe.errors import StripeError, no_such
from devstack.stripe.listing import created_filter
from devstack.stripe.params import Params
from devstack.stripe.routes.common import (
    bad,
    deleted,
    emulator,
    params,
    path_id,
    respond,
    respond_list,
)
from devstack.stripe.store import Obj, Store

routes = web.RouteTableDef()

CUSTOMER_FIELDS = {
    "email",
    "name",
    "description",
    "phone",
    "metadata",
    "address",
    "shipping",
    "preferred_locales",
    "invoice_settings",
    "payment_method",
    "test_clock",
    "balance",
    "invoice_prefix",
    "tax_exempt",
    "source",
    "tax",
    "next_invoice_sequence",
}


def _address(p: Params, key: str) -> dict[str, str | None] | None:
    sub = p.sub(key)
    if sub is None:
        return None
    address: dict[str, str | None] = dict(objects.ADDRESS_NULL)
    for field in address:
        address[field] = sub.str(field)
    return address


def _apply_customer(store: Store, customer: Obj, p: Params) -> None:
    for field in ("email", "name", "description", "phone"):
        if field in p:
            customer[field] = p.str(field) or None
    customer["metadata"] = p.metadata(customer["metadata"])
    if "address" in p:
        customer["address"] = _address(p, "address")
    if "shipping" in p:
        shipping = p.sub("shipping")
        customer["shipping"] = (
            None
            if shipping is None
            else {
                "address": _address(shipping, "address"),
                "name": shipping.req("name"),
                "phone": shipping.str("phone"),
            }
        )
    if "preferred_locales" in p:
        customer["preferred_locales"] = [str(x) for x in p.list("preferred_locales")]
    if "balance" in p:
        customer["balance"] = p.int("balance")
    if "tax_exempt" in p:
        customer["tax_exempt"] = p.choice("tax_exempt", ("none", "exempt", "reverse"))
    if "invoice_prefix" in p:
        customer["invoice_prefix"] = p.req("invoice_prefix")
    # A test ID (pm_card_visa) given both as payment_method and as the default names
    # one card, as in Stripe's own examples: the default is the card just attached.
    attached: dict[str, str] = {}
    now = store.now_for(customer["id"])
    if ref := p.str("payment_method"):
        attached[ref] = payment_methods.attach(store, ref, customer["id"], "payment_method", now)[
            "id"
        ]
    settings = p.sub("invoice_settings")
    if settings is not None and "default_payment_method" in settings:
        ref = settings.str("default_payment_method") or None
        param = "invoice_settings[default_payment_method]"
        if ref and ref not in attached:
            attached[ref] = payment_methods.attach(store, ref, customer["id"], param, now)["id"]
        customer["invoice_settings"]["default_payment_method"] = attached[ref] if ref else None


@routes.post("/v1/customers")
@operation("customers.create")
async def create_customer(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    p.check_known(CUSTOMER_FIELDS)
    clock_id = p.str("test_clock")
    clock = emu.store.get("test_helpers.test_clock", clock_id, "test_clock") if clock_id else None
    created = int(clock["frozen_time"]) if clock else emu.store.now()
    customer = objects.customer(created, test_clock=clock_id)
    _apply_customer(emu.store, customer, p)
    emu.store.add("customer", customer)
    emu.billing.emit("customer.created", "customer", customer, customer=customer["id"])
    return respond(request, "customer", customer)


def _customer(request: web.Request) -> Obj:
    customer = emulator(request).store.get("customer", path_id(request))
    if customer.get("_deleted"):
        raise no_such("customer", customer["id"])
    return customer


@routes.get("/v1/customers/search")
@operation("customers.search")
async def search_customers(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    query = p.req("query")
    clauses = re.findall(r"(\w+)(?:\[['\"]([^'\"]+)['\"]\])?\s*:\s*['\"]([^'\"]*)['\"]", query)
    if not clauses:
        raise bad(f"Invalid search query: {query}", "query")
    found = []
    for customer in emu.store.all("customer"):
        ok = not customer.get("_deleted")
        for field, key, value in clauses:
            actual = (
                customer.get("metadata", {}).get(key)
                if field == "metadata"
                else (customer.get(field))
            )
            ok = ok and actual is not None and str(actual) == value
        if ok:
            found.append(customer)
    found.sort(key=lambda c: (c["created"], c["_seq"]), reverse=True)
    limit = p.int("limit", 10) or 10
    return _search_result(request, [objects.render(emu.store, "customer", c) for c in found], limit)


def _search_result(request: web.Request, data: list[Obj], limit: int) -> web.Response:
    from devstack.stripe.middleware import json_response

    return json_response(
        {
            "object": "search_result",
            "data": data[:limit],
            "has_more": len(data) > limit,
            "next_page": None,
            "url": request.path,
        }
    )


@routes.get("/v1/customers/{id}")
@operation("customers.retrieve")
async def get_customer(request: web.Request) -> web.Response:
    customer = emulator(request).store.get("customer", path_id(request))
    if customer.get("_deleted"):
        return deleted(customer["id"], "customer")
    return respond(request, "customer", customer)


@routes.post("/v1/customers/{id}")
@operation("customers.update")
async def update_customer(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    p.check_known(CUSTOMER_FIELDS - {"test_clock"} | {"default_source"})
    customer = _customer(request)
    before = objects.public(customer)
    _apply_customer(emu.store, customer, p)
    previous = {k: v for k, v in before.items() if customer.get(k) != v}
    emu.billing.emit("customer.updated", "customer", customer, previous, customer=customer["id"])
    return respond(request, "customer", customer)


@routes.delete("/v1/customers/{id}")
@operation("customers.delete")
async def delete_customer(request: web.Request) -> web.Response:
    emu = emulator(request)
    customer = _customer(request)
    for sub in emu.store.all("subscription"):
        if sub["customer"] == customer["id"] and sub["status"] != "canceled":
            emu.billing.cancel(
                sub, at=emu.store.now_for(customer["id"]), reason="cancellation_requested"
            )
    emu.billing.emit("customer.deleted", "customer", customer, customer=customer["id"])
    customer["_deleted"] = True
    return deleted(customer["id"], "customer")


@routes.get("/v1/customers")
@operation("customers.list")
async def list_customers(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    email, clock = p.str("email"), p.str("test_clock")
    created = created_filter(p)
    items = [
        c
        for c in emu.store.all("customer")
        if not c.get("_deleted")
        and (email is None or c["email"] == email)
        and (clock is None or c["test_clock"] == clock)
        and created(c["created"])
    ]
    return respond_list(request, "customer", items, "/v1/customers")


# -- products ---------------------------------------------------------------------------

PRODUCT_FIELDS = {
    "name",
    "id",
    "active",
    "description",
    "metadata",
    "images",
    "url",
    "unit_label",
    "tax_code",
    "statement_descriptor",
    "shippable",
    "default_price_data",
    "type",
    "marketing_features",
    "package_dimensions",
    "default_price",
}


def _apply_product(product: Obj, p: Params) -> None:
    for field in ("description", "url", "unit_label", "tax_code", "statement_descriptor"):
        if field in p:
            product[field] = p.str(field) or None
    if "name" in p:
        product["name"] = p.req("name")
    if "active" in p:
        product["active"] = p.bool("active")
    if "shippable" in p:
        product["shippable"] = p.bool("shippable")
    if "images" in p:
        product["images"] = [str(x) for x in p.list("images")]
    if "marketing_features" in p:
        product["marketing_features"] = [
            {"name": f.req("name")} for f in p.sublist("marketing_features")
        ]
    product["metadata"] = p.metadata(product["metadata"])


@routes.post("/v1/products")
@operation("products.create")
async def create_product(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    p.check_known(PRODUCT_FIELDS - {"default_price"})
    name = p.req("name")
    product = objects.product(emu.store.now())
    custom_id = p.str("id")
    if custom_id:
        if emu.store.find("product", custom_id):
            raise StripeError("Product already exists.", param="id", code="resource_already_exists")
        product["id"] = custom_id
    product["name"] = name
    product["type"] = p.choice("type", ("service", "good"), "service")
    _apply_product(product, p)
    emu.store.add("product", product)
    emu.billing.emit("product.created", "product", product)
    data = p.sub("default_price_data")
    if data is not None:
        price = _make_price(emu.store, data, product["id"])
        product["default_price"] = price["id"]
        emu.billing.emit("price.created", "price", price)
    return respond(request, "product", product)


@routes.get("/v1/products/{id}")
@operation("products.retrieve")
async def get_product(request: web.Request) -> web.Response:
    return respond(request, "product", emulator(request).store.get("product", path_id(request)))


@routes.post("/v1/products/{id}")
@operation("products.update")
async def update_product(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    p.check_known(PRODUCT_FIELDS - {"id", "type", "default_price_data"})
    product = emu.store.get("product", path_id(request))
    before = objects.public(product)
    _apply_product(product, p)
    if "default_price" in p:
        price_id = p.str("default_price")
        if price_id:
            emu.store.get("price", price_id, "default_price")
        product["default_price"] = price_id or None
    product["updated"] = emu.store.now()
    previous = {k: v for k, v in before.items() if product.get(k) != v and k != "updated"}
    emu.billing.emit("product.updated", "product", product, previous)
    return respond(request, "product", product)


@routes.delete("/v1/products/{id}")
@operation("products.delete")
async def delete_product(request: web.Request) -> web.Response:
    emu = emulator(request)
    product = emu.store.get("product", path_id(request))
    if any(pr["product"] == product["id"] for pr in emu.store.all("price")):
        raise StripeError(
            "This product cannot be deleted because it has one or more user-created prices."
        )
    emu.store.remove("product", product["id"])
    emu.billing.emit("product.deleted", "product", product)
    return deleted(product["id"], "product")


@routes.get("/v1/products")
@operation("products.list")
async def list_products(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    active = p.bool("active")
    ids = set(p.list("ids"))
    items = [
        pr
        for pr in emu.store.all("product")
        if (active is None or pr["active"] == active) and (not ids or pr["id"] in ids)
    ]
    return respond_list(request, "product", items, "/v1/products")


# -- prices -------------------------------------------------------------------------------

PRICE_FIELDS = {
    "currency",
    "unit_amount",
    "unit_amount_decimal",
    "product",
    "product_data",
    "recurring",
    "lookup_key",
    "transfer_lookup_key",
    "nickname",
    "metadata",
    "active",
    "tax_behavior",
    "billing_scheme",
    "custom_unit_amount",
    "tiers",
    "tiers_mode",
    "transform_quantity",
    "currency_options",
}


def _make_price(store: Store, p: Params, product_id: str | None) -> Obj:
    currency = p.req("currency").lower()
    price = objects.price(store.now())
    price["currency"] = currency
    if p.choice("billing_scheme", ("per_unit", "tiered"), "per_unit") == "tiered":
        raise StripeError(
            "Tiered prices are not supported by the local Stripe emulator.", param="billing_scheme"
        )
    if "unit_amount" in p and "unit_amount_decimal" in p:
        raise StripeError(
            "You may only specify one of these parameters: unit_amount, unit_amount_decimal.",
            param="unit_amount",
        )
    if "unit_amount" in p:
        amount = p.int("unit_amount")
        assert amount is not None
        if amount < 0:
            raise StripeError("This value must be greater than or equal to 0.", param="unit_amount")
        price["unit_amount"], price["unit_amount_decimal"] = amount, str(amount)
    elif "unit_amount_decimal" in p:
        text = p.req("unit_amount_decimal")
        try:
            value = float(text)
        except ValueError:
            raise StripeError(f"Invalid decimal: {text}", param="unit_amount_decimal") from None
        price["unit_amount_decimal"] = text
        price["unit_amount"] = int(value) if value == int(value) else None
    elif "custom_unit_amount" not in p:
        raise StripeError(
            "Missing required param: unit_amount.", code="parameter_missing", param="unit_amount"
        )
    if product_id is None:
        product_id = p.str("product")
        data = p.sub("product_data")
        if product_id and data is not None:
            raise StripeError(
                "You may only specify one of these parameters: product, product_data.",
                param="product",
            )
        if data is not None:
            product = objects.product(store.now())
            product["name"] = data.req("name")
            product["metadata"] = data.metadata()
            if "id" in data:
                product["id"] = data.req("id")
            store.add("product", product)
            product_id = product["id"]
        if not product_id:
            raise StripeError(
                "Missing required param: product.", code="parameter_missing", param="product"
            )
        store.get("product", product_id, "product")
    price["product"] = product_id
    recurring = p.sub("recurring")
    if recurring is not None:
        usage_type = recurring.choice("usage_type", ("licensed", "metered"), "licensed")
        meter_id = recurring.str("meter")
        if usage_type == "metered" and not meter_id:
            raise StripeError(
                "Metered prices must be backed by a meter: pass recurring[meter].",
                param="recurring[meter]",
            )
        if meter_id:
            if usage_type != "metered":
                raise StripeError(
                    "A meter can only be set when usage_type is `metered`.",
                    param="recurring[meter]",
                )
            store.get("billing.meter", meter_id, "recurring[meter]")
        price["type"] = "recurring"
        price["recurring"] = {
            "interval": recurring.choice("interval", ("day", "week", "month", "year"))
            or _missing(recurring, "interval"),
            "interval_count": recurring.int("interval_count", 1),
            "meter": meter_id,
            "trial_period_days": recurring.int("trial_period_days"),
            "usage_type": usage_type,
        }
    transform = p.sub("transform_quantity")
    if transform is not None:
        divide_by = transform.int("divide_by")
        if divide_by is None:
            _missing(transform, "divide_by")
        if divide_by is not None and divide_by < 1:
            raise StripeError(
                "This value must be greater than or equal to 1.",
                param="transform_quantity[divide_by]",
            )
        rounding = transform.choice("round", ("up", "down"))
        if rounding is None:
            _missing(transform, "round")
        price["transform_quantity"] = {"divide_by": divide_by, "round": rounding}
    lookup_key = p.str("lookup_key")
    if lookup_key:
        holder = next((x for x in store.all("price") if x["lookup_key"] == lookup_key), None)
        if holder is not None:
            if not p.bool("transfer_lookup_key", False):
                raise StripeError(
                    f"A price (`{holder['id']}`) already uses that lookup key.",
                    param="lookup_key",
                )
            holder["lookup_key"] = None
        price["lookup_key"] = lookup_key
    price["nickname"] = p.str("nickname")
    price["tax_behavior"] = p.choice(
        "tax_behavior", ("inclusive", "exclusive", "unspecified"), "unspecified"
    )
    if "active" in p:
        price["active"] = p.bool("active")
    price["metadata"] = p.metadata()
    store.add("price", price)
    return price


def _missing(p: Params, key: str) -> str:
    raise StripeError(
        f"Missing required param: {p.name(key)}.", code="parameter_missing", param=p.name(key)
    )


@routes.post("/v1/prices")
@operation("prices.create")
async def create_price(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    p.check_known(PRICE_FIELDS)
    price = _make_price(emu.store, p, None)
    emu.billing.emit("price.created", "price", price)
    return respond(request, "price", price)


@routes.get("/v1/prices/{id}")
@operation("prices.retrieve")
async def get_price(request: web.Request) -> web.Response:
    return respond(request, "price", emulator(request).store.get("price", path_id(request)))


@routes.post("/v1/prices/{id}")
@operation("prices.update")
async def update_price(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    p.check_known(
        {
            "active",
            "metadata",
            "nickname",
            "lookup_key",
            "transfer_lookup_key",
            "tax_behavior",
            "currency_options",
        }
    )
    price = emu.store.get("price", path_id(request))
    before = objects.public(price)
    if "active" in p:
        price["active"] = p.bool("active")
    if "nickname" in p:
        price["nickname"] = p.str("nickname") or None
    if "lookup_key" in p:
        key = p.str("lookup_key") or None
        holder = next(
            (
                x
                for x in emu.store.all("price")
                if key and x["lookup_key"] == key and x["id"] != price["id"]
            ),
            None,
        )
        if holder is not None:
            if not p.bool("transfer_lookup_key", False):
                raise StripeError(
                    f"A price (`{holder['id']}`) already uses that lookup key.", param="lookup_key"
                )
            holder["lookup_key"] = None
        price["lookup_key"] = key
    price["metadata"] = p.metadata(price["metadata"])
    previous = {k: v for k, v in before.items() if price.get(k) != v}
    emu.billing.emit("price.updated", "price", price, previous)
    return respond(request, "price", price)


@routes.get("/v1/prices")
@operation("prices.list")
async def list_prices(request: web.Request) -> web.Response:
    emu, p = emulator(request), params(request)
    active, product, kind = p.bool("active"), p.str("product"), p.str("type")
    currency = p.str("currency")
    lookup_keys = set(p.list("lookup_keys"))
    recurring = p.sub("recurring")
    usage = recurring.str("usage_type") if recurring else None
    interval = recurring.str("interval") if recurring else None
    items = [
        x
        for x in emu.store.all("price")
        if (active is None or x["active"] == active)
        and (product is None or x["product"] == product)
        and (kind is None or x["type"] == kind)
        and (currency is None or x["currency"] == currency)
        and (not lookup_keys or x["lookup_key"] in lookup_keys)
        and (usage is None or (x["recurring"] or {}).get("usage_type") == usage)
        and (interval is None or (x["recurring"] or {}).get("interval") == interval)
    ]
    return respond_list(request, "price", items, "/v1/prices")


# -- payment methods (read-only: cards are entered on the hosted checkout page) ----------


@routes.get("/v1/payment_methods/{id}")
@operation("payment_methods.retrieve")
async def get_payment_method(request: web.Request) -> web.Response:
    return respond(
        request, "payment_method", emulator(request).store.get("payment_method", path_id(request))
    )


@routes.get("/v1/customers/{id}/payment_methods")
@operation("customers.payment_methods.list")
async def list_customer_payment_methods(request: web.Request) -> web.Response:
    emu = emulator(request)
    customer = _customer(request)
    items = [pm for pm in emu.store.all("payment_method") if pm["customer"] == customer["id"]]
    return respond_list(
        request, "payment_method", items, f"/v1/customers/{customer['id']}/payment_methods"
    )
