"""The billing engine: subscriptions, periods, invoices, payments, prorations, usage.

Everything time-based reads the customer's clock (its test clock, else the account clock
that ``/_admin/advance`` moves), so advancing a clock rolls subscriptions through their
renewals: one invoice per period, charged to the customer's card, paid or failed.
Renewal invoices are finalized and charged at once (Stripe waits about an hour).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from devstack.stripe import objects
from devstack.stripe.cards import DECLINES, GENERIC, Decline
from devstack.stripe.errors import StripeError
from devstack.stripe.payments import Payments
from devstack.stripe.store import Obj, Store
from devstack.stripe.webhooks import EventBus

METER_EVENTS = "billing.meter_event"


def add_interval(anchor: int, interval: str, count: int, n: int) -> int:
    """The ``n``-th period boundary after ``anchor``, keeping the anchor's day of month."""
    if interval in ("day", "week"):
        days = (1 if interval == "day" else 7) * count * n
        return anchor + days * 86400
    start = dt.datetime.fromtimestamp(anchor, dt.UTC)
    months = (12 if interval == "year" else 1) * count * n
    year, month0 = divmod(start.month - 1 + months, 12)
    year += start.year
    day = min(start.day, calendar.monthrange(year, month0 + 1)[1])
    return int(start.replace(year=year, month=month0 + 1, day=day).timestamp())


def billed_units(price: Obj, quantity: Decimal | int) -> Decimal:
    """The quantity the unit price applies to: with ``transform_quantity`` the usage (or
    quantity) divided by ``divide_by`` and rounded up or down to a whole package, as
    Stripe does; the invoice line still shows the quantity before the transformation."""
    transform = price.get("transform_quantity")
    if not transform:
        return Decimal(quantity)
    rounding = ROUND_CEILING if transform["round"] == "up" else ROUND_FLOOR
    return (Decimal(quantity) / Decimal(transform["divide_by"])).quantize(
        Decimal(1), rounding=rounding
    )


def amount_of(price: Obj, quantity: Decimal | int) -> int:
    unit = Decimal(price.get("unit_amount_decimal") or price.get("unit_amount") or 0)
    units = billed_units(price, quantity)
    return int((unit * units).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_decimal(value: Any) -> Decimal | None:
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return result if result.is_finite() else None


@dataclass
class ItemSpec:
    """One requested subscription item."""

    price: Obj
    quantity: int | None
    metadata: dict[str, str]


class Billing:
    """Runs subscriptions for the emulated account and emits their events."""

    def __init__(self, store: Store, bus: EventBus, public_url: str) -> None:
        self.store = store
        self.bus = bus
        self.public_url = public_url
        self.payments = Payments(store)

    # -- helpers ---------------------------------------------------------------------
    def render_sub(self, sub: Obj) -> Obj:
        return objects.render(self.store, "subscription", sub)

    def render_invoice(self, invoice: Obj) -> Obj:
        return objects.render(self.store, "invoice", invoice)

    def emit(
        self,
        event_type: str,
        kind: str,
        obj: Obj,
        previous: dict[str, Any] | None = None,
        customer: str | None = None,
    ) -> None:
        rendered = objects.render(self.store, kind, obj)
        self.bus.emit(
            event_type,
            rendered,
            previous=previous,
            created=self.store.now_for(customer) if customer else None,
        )

    def is_metered(self, price: Obj) -> bool:
        return (price.get("recurring") or {}).get("usage_type") == "metered"

    def payment_method_for(self, customer_id: str, pm_id: str | None = None) -> str | None:
        """The card a charge goes to: the subscription's, else the customer's default."""
        customer = self.store.find("customer", customer_id)
        if pm_id is None and customer is not None:
            return customer["invoice_settings"]["default_payment_method"]  # type: ignore[no-any-return]
        return pm_id

    def decline_for(self, customer_id: str, pm_id: str | None = None) -> Decline | None:
        """Why a charge to this customer fails now, or None if it succeeds.

        The card is the subscription's default payment method, else the customer's; an
        admin flag (``/_admin/customers/{id}/payment_behavior``) makes any charge fail.
        """
        if self.store.payment_failures.get(customer_id):
            return GENERIC
        customer = self.store.find("customer", customer_id)
        if pm_id is None and customer is not None:
            pm_id = customer["invoice_settings"]["default_payment_method"]
        pm = self.store.find("payment_method", pm_id) if pm_id else None
        if pm is None:
            return Decline(
                "payment_method_missing",
                None,
                "The customer has no attached payment source or default payment method.",
            )
        return DECLINES.get(pm.get("_number", ""))

    # -- subscriptions ------------------------------------------------------------------
    def create_subscription(
        self,
        customer: Obj,
        specs: list[ItemSpec],
        *,
        metadata: dict[str, str],
        description: str | None = None,
        cancel_at_period_end: bool = False,
        default_payment_method: str | None = None,
        backdate_start_date: int | None = None,
        billing_cycle_anchor: int | None = None,
    ) -> tuple[Obj, Obj]:
        """Creates a subscription and its first invoice, and charges it.

        ``backdate_start_date`` starts it in the past and ``billing_cycle_anchor`` ends its
        first period early, as Stripe's parameters do: the first period is then
        ``[backdate_start_date or now, billing_cycle_anchor)`` and the following ones are
        whole intervals from the anchor. Only metered items may use them here (Stripe
        prorates licensed ones, which the emulator does not).
        """
        self.validate_items(specs)
        now = self.store.now_for(customer["id"])
        currency = specs[0].price["currency"]
        if backdate_start_date is not None or billing_cycle_anchor is not None:
            self.validate_anchor(specs, now, backdate_start_date, billing_cycle_anchor)
        sub = objects.subscription(now, customer["id"], currency, customer.get("test_clock"))
        sub["metadata"] = metadata
        sub["description"] = description
        sub["cancel_at_period_end"] = cancel_at_period_end
        sub["default_payment_method"] = default_payment_method
        recurring = specs[0].price["recurring"]
        end = add_interval(now, recurring["interval"], recurring["interval_count"], 1)
        sub["_anchor"], sub["_period"] = now, 1
        if backdate_start_date is not None:
            sub["start_date"] = backdate_start_date
            sub["_anchor"] = backdate_start_date
            end = add_interval(
                backdate_start_date, recurring["interval"], recurring["interval_count"], 1
            )
        if billing_cycle_anchor is not None:
            # Period 0 is the short first one: [start, anchor).
            sub["_first_start"] = backdate_start_date if backdate_start_date is not None else now
            sub["_anchor"], sub["_period"] = billing_cycle_anchor, 0
            sub["billing_cycle_anchor"] = billing_cycle_anchor
            end = billing_cycle_anchor
        if cancel_at_period_end:
            sub["cancel_at"] = end
        self.store.add("subscription", sub)
        for spec in specs:
            self.add_item(sub, spec, now, end)
        if customer.get("currency") is None:
            customer["currency"] = currency
        invoice = self.new_invoice(sub, customer, "subscription_create", now, now)
        for item in self.items(sub):
            price = self.store.get("price", item["price"])
            if not self.is_metered(price):
                self.add_line(invoice, sub, item, price, item["quantity"] or 1, now, end)
        self.finalize(invoice)
        self.emit("customer.subscription.created", "subscription", sub, customer=customer["id"])
        self.emit("invoice.created", "invoice", invoice, customer=customer["id"])
        self.emit("invoice.finalized", "invoice", invoice, customer=customer["id"])
        paid = self.attempt_payment(invoice)
        previous = {"status": sub["status"]}
        sub["status"] = "active" if paid else "incomplete"
        if paid:
            self.emit(
                "customer.subscription.updated",
                "subscription",
                sub,
                previous,
                customer=customer["id"],
            )
        return sub, invoice

    def validate_anchor(
        self, specs: list[ItemSpec], now: int, backdate: int | None, anchor: int | None
    ) -> None:
        if backdate is not None and backdate > now:
            raise StripeError(
                "The backdate_start_date must be in the past.", param="backdate_start_date"
            )
        if anchor is not None:
            start = backdate if backdate is not None else now
            recurring = specs[0].price["recurring"]
            limit = add_interval(start, recurring["interval"], recurring["interval_count"], 1)
            if not start < anchor <= limit:
                raise StripeError(
                    "billing_cycle_anchor cannot be later than next natural billing date "
                    f"({limit}) for plan",
                    param="billing_cycle_anchor",
                )
        if not all(self.is_metered(spec.price) for spec in specs):
            raise StripeError(
                "The local Stripe emulator supports backdate_start_date and "
                "billing_cycle_anchor for metered prices only (no prorations).",
                param="items",
            )

    def validate_items(self, specs: list[ItemSpec]) -> None:
        if not specs:
            raise StripeError(
                "Missing required param: items.", code="parameter_missing", param="items"
            )
        seen: set[str] = set()
        first = specs[0].price
        for i, spec in enumerate(specs):
            price = spec.price
            if price.get("type") != "recurring":
                raise StripeError(
                    f"The price specified ({price['id']}) is a one-time price. Subscriptions "
                    "only support recurring prices.",
                    param=f"items[{i}][price]",
                )
            if not price.get("active"):
                raise StripeError(
                    f"The price specified ({price['id']}) is inactive.", param=f"items[{i}][price]"
                )
            if price["id"] in seen:
                raise StripeError(
                    f"Cannot add multiple subscription items with the same price: {price['id']}",
                    param="items",
                )
            seen.add(price["id"])
            if price["currency"] != first["currency"]:
                raise StripeError(
                    "All prices on a subscription must have the same currency.", param="items"
                )
            a, b = price["recurring"], first["recurring"]
            if (a["interval"], a["interval_count"]) != (b["interval"], b["interval_count"]):
                raise StripeError(
                    "The price specified has a different billing interval than the other prices "
                    "on this subscription; all items must share one interval.",
                    param=f"items[{i}][price]",
                )
            if self.is_metered(price) and spec.quantity is not None:
                raise StripeError(
                    "Quantity should not be specified where usage_type is `metered`. Remove "
                    "quantity from the request.",
                    param=f"items[{i}][quantity]",
                )

    def add_item(self, sub: Obj, spec: ItemSpec, now: int, end: int) -> Obj:
        quantity = None if self.is_metered(spec.price) else (spec.quantity or 1)
        start = self.period_start(sub)
        item = objects.subscription_item(now, sub["id"], spec.price["id"], quantity, start, end)
        item["metadata"] = spec.metadata
        self.store.add("subscription_item", item)
        sub["_items"].append(item["id"])
        return item

    def items(self, sub: Obj) -> list[Obj]:
        return [self.store.get("subscription_item", i) for i in sub["_items"]]

    def period_start(self, sub: Obj) -> int:
        if sub["_period"] == 0:
            return int(sub["_first_start"])
        interval = self.interval(sub)
        return add_interval(sub["_anchor"], interval[0], interval[1], sub["_period"] - 1)

    def period_end(self, sub: Obj) -> int:
        interval = self.interval(sub)
        return add_interval(sub["_anchor"], interval[0], interval[1], sub["_period"])

    def interval(self, sub: Obj) -> tuple[str, int]:
        items = self.items(sub)
        price = self.store.get("price", items[0]["price"]) if items else None
        recurring = (price or {}).get("recurring") or {"interval": "month", "interval_count": 1}
        return recurring["interval"], int(recurring["interval_count"])

    # -- invoices -----------------------------------------------------------------------
    def new_invoice(self, sub: Obj | None, customer: Obj, reason: str, start: int, end: int) -> Obj:
        now = self.store.now_for(customer["id"])
        invoice = objects.invoice(now, customer, sub["id"] if sub else None, reason)
        invoice["currency"] = sub["currency"] if sub else customer.get("currency") or "usd"
        invoice["period_start"], invoice["period_end"] = start, end
        if sub is not None:
            assert invoice["parent"] is not None
            invoice["parent"]["subscription_details"]["metadata"] = dict(sub["metadata"])
            sub["latest_invoice"] = invoice["id"]
        self.store.add("invoice", invoice)
        return invoice

    def add_line(
        self,
        invoice: Obj,
        sub: Obj | None,
        item: Obj | None,
        price: Obj,
        quantity: Decimal | int,
        start: int,
        end: int,
        *,
        description: str | None = None,
        amount: int | None = None,
        proration: bool = False,
    ) -> Obj:
        product = self.store.find("product", price["product"])
        name = product["name"] if product else price["id"]
        qty = int(quantity) if Decimal(quantity) == int(quantity) else None
        line = objects.invoice_line(
            invoice["id"],
            amount=amount if amount is not None else amount_of(price, quantity),
            currency=price["currency"],
            description=description or f"{qty if qty is not None else quantity} x {name}",
            start=start,
            end=end,
            quantity=qty,
            price_obj=price,
            subscription_id=sub["id"] if sub else None,
            item_id=item["id"] if item else None,
            proration=proration,
        )
        if qty is None:
            line["quantity_decimal"] = str(quantity)
        invoice["lines"]["data"].append(line)
        self.totals(invoice)
        return line

    def totals(self, invoice: Obj) -> None:
        total = sum(line["amount"] for line in invoice["lines"]["data"])
        invoice["subtotal"] = invoice["subtotal_excluding_tax"] = total
        invoice["total"] = invoice["total_excluding_tax"] = total
        due = max(total, 0)
        invoice["amount_due"] = due
        invoice["amount_remaining"] = due - invoice["amount_paid"]

    def finalize(self, invoice: Obj) -> None:
        customer = self.store.get("customer", invoice["customer"])
        now = self.store.now_for(customer["id"])
        if invoice["total"] < 0:
            customer["balance"] += invoice["total"]
            invoice["ending_balance"] = customer["balance"]
        invoice["number"] = f"{customer['invoice_prefix']}-{customer['next_invoice_sequence']:04d}"
        customer["next_invoice_sequence"] += 1
        invoice["status"] = "open"
        invoice["effective_at"] = now
        invoice["status_transitions"]["finalized_at"] = now
        invoice["hosted_invoice_url"] = f"{self.public_url}/invoice/{invoice['id']}"
        invoice["webhooks_delivered_at"] = now

    def attempt_payment(self, invoice: Obj, *, emit_failure: bool = True) -> bool:
        """Charges an open invoice to the customer's card; emits paid or failed events."""
        customer_id = invoice["customer"]
        now = self.store.now_for(customer_id)
        if invoice["amount_remaining"] <= 0:
            self.mark_paid(invoice, now)
            return True
        invoice["attempted"] = True
        invoice["attempt_count"] += 1
        sub = self.store.find("subscription", invoice.get("subscription") or "")
        pm_id = self.payment_method_for(customer_id, sub["default_payment_method"] if sub else None)
        decline = self.decline_for(customer_id, pm_id)
        if decline is None:
            self.payments.succeeded(invoice, pm_id, now)
            self.mark_paid(invoice, now)
            return True
        self.payments.failed(invoice, pm_id, decline, now)
        invoice["next_payment_attempt"] = now + 3 * 86400 if invoice["attempt_count"] < 4 else None
        invoice["_decline"] = {
            "code": decline.code,
            "decline_code": decline.decline_code,
            "message": decline.message,
        }
        if emit_failure:
            self.emit("invoice.payment_failed", "invoice", invoice, customer=customer_id)
        return False

    def mark_paid(self, invoice: Obj, now: int) -> None:
        invoice["attempted"] = True
        invoice["amount_paid"] = invoice["amount_due"]
        invoice["amount_remaining"] = 0
        invoice["status"] = "paid"
        invoice["next_payment_attempt"] = None
        invoice["status_transitions"]["paid_at"] = now
        invoice.pop("_decline", None)
        self.emit("invoice.paid", "invoice", invoice, customer=invoice["customer"])
        self.emit("invoice.payment_succeeded", "invoice", invoice, customer=invoice["customer"])

    def pay(self, invoice: Obj) -> Obj:
        """``POST /v1/invoices/{id}/pay``: a card error (402) if the charge fails."""
        if invoice["status"] == "paid":
            raise StripeError("Invoice is already paid", code="invoice_already_paid")
        if invoice["status"] in ("void", "uncollectible", "draft"):
            if invoice["status"] == "draft":
                self.finalize(invoice)
            else:
                raise StripeError(
                    f"You cannot pay an invoice with status {invoice['status']}.",
                    code="invoice_not_editable",
                )
        if not self.attempt_payment(invoice):
            decline = invoice["_decline"]
            raise StripeError(
                decline["message"],
                status=402,
                type="card_error",
                code=decline["code"],
                decline_code=decline["decline_code"],
            )
        sub = self.store.find("subscription", invoice.get("subscription") or "")
        if sub is not None and sub["status"] in ("past_due", "incomplete", "unpaid"):
            previous = {"status": sub["status"]}
            sub["status"] = "active"
            self.emit(
                "customer.subscription.updated",
                "subscription",
                sub,
                previous,
                customer=sub["customer"],
            )
        return invoice

    # -- usage ----------------------------------------------------------------------------
    def usage(self, meter: Obj, customer_id: str, start: int, end: int) -> Decimal:
        """The meter's aggregate for one customer over ``[start, end)``."""
        key = meter["customer_mapping"]["event_payload_key"]
        value_key = meter["value_settings"]["event_payload_key"]
        values: list[tuple[int, int, Decimal]] = []
        for event in self.store.all(METER_EVENTS):
            if event["event_name"] != meter["event_name"] or event.get("_meter") != meter["id"]:
                continue
            if event["payload"].get(key) != customer_id or not start <= event["timestamp"] < end:
                continue
            value = to_decimal(event["payload"].get(value_key, "1"))
            if value is not None:
                values.append((event["timestamp"], event["_seq"], value))
        formula = meter["default_aggregation"]["formula"]
        if formula == "count":
            return Decimal(len(values))
        if formula == "last":
            return max(values)[2] if values else Decimal(0)
        return sum((v for _, _, v in values), Decimal(0))

    # -- time -------------------------------------------------------------------------------
    def advance(self, clock_id: str | None) -> None:
        """Rolls every subscription on this clock (None: the account clock) up to its now."""
        for sub in self.store.all("subscription"):
            customer = self.store.find("customer", sub["customer"])
            if customer is None or customer.get("test_clock") != clock_id:
                continue
            now = self.store.now_for(customer["id"])
            while sub["status"] not in ("canceled", "incomplete_expired"):
                if sub["status"] == "incomplete" and now >= sub["created"] + 23 * 3600:
                    previous = {"status": sub["status"]}
                    sub["status"] = "incomplete_expired"
                    sub["ended_at"] = sub["created"] + 23 * 3600
                    self.emit(
                        "customer.subscription.updated",
                        "subscription",
                        sub,
                        previous,
                        customer=customer["id"],
                    )
                    break
                if sub["cancel_at"] is not None and sub["cancel_at"] <= now:
                    self.cancel(sub, at=sub["cancel_at"], reason="cancellation_requested")
                    break
                end = self.period_end(sub)
                if end > now or sub["status"] == "incomplete":
                    break
                self.renew(sub, customer)

    def next_boundary(self, clock_id: str | None) -> int | None:
        """The earliest moment at which something happens to a subscription on this clock."""
        times: list[int] = []
        for sub in self.store.all("subscription"):
            customer = self.store.find("customer", sub["customer"])
            if customer is None or customer.get("test_clock") != clock_id:
                continue
            if sub["status"] in ("canceled", "incomplete_expired"):
                continue
            if sub["status"] == "incomplete":
                times.append(sub["created"] + 23 * 3600)
                continue
            times.append(self.period_end(sub))
            if sub["cancel_at"] is not None:
                times.append(sub["cancel_at"])
        return min(times) if times else None

    def run_until(self, clock_id: str | None, target: int) -> None:
        """Moves a clock to ``target`` through every boundary on the way, in order.

        Renewal invoices, failures and cancellations then carry the time they would have
        had, not the time the clock was advanced to.
        """
        while True:
            boundary = self.next_boundary(clock_id)
            if boundary is None or boundary > target:
                break
            self.set_now(clock_id, boundary)
            self.advance(clock_id)
            if self.next_boundary(clock_id) == boundary:
                break  # nothing moved (e.g. a failed invariant): never spin
        self.set_now(clock_id, target)
        self.advance(clock_id)

    def set_now(self, clock_id: str | None, when: int) -> None:
        if clock_id is None:
            import time

            self.store.offset = max(self.store.offset, when - time.time())
        else:
            clock = self.store.get("test_helpers.test_clock", clock_id)
            clock["frozen_time"] = max(int(clock["frozen_time"]), when)

    def renew(self, sub: Obj, customer: Obj) -> None:
        """Closes the current period: bills usage in arrears and the next period ahead."""
        old_start, old_end = self.period_start(sub), self.period_end(sub)
        sub["_period"] += 1
        new_end = self.period_end(sub)
        previous_items = {"items": objects.render(self.store, "subscription", sub)["items"]}
        invoice = self.new_invoice(sub, customer, "subscription_cycle", old_start, old_end)
        for item in self.items(sub):
            price = self.store.get("price", item["price"])
            if self.is_metered(price):
                meter = self.store.find("billing.meter", price["recurring"].get("meter") or "")
                used = self.usage(meter, customer["id"], old_start, old_end) if meter else 0
                self.add_line(invoice, sub, item, price, used, old_start, old_end)
            else:
                self.add_line(invoice, sub, item, price, item["quantity"] or 1, old_end, new_end)
            item["current_period_start"], item["current_period_end"] = old_end, new_end
        self.flush_pending(sub, invoice)
        self.finalize(invoice)
        self.emit("invoice.created", "invoice", invoice, customer=customer["id"])
        self.emit("invoice.finalized", "invoice", invoice, customer=customer["id"])
        self.emit(
            "customer.subscription.updated",
            "subscription",
            sub,
            previous_items,
            customer=customer["id"],
        )
        paid = self.attempt_payment(invoice)
        if not paid and sub["status"] == "active":
            sub["status"] = "past_due"
            self.emit(
                "customer.subscription.updated",
                "subscription",
                sub,
                {"status": "active"},
                customer=customer["id"],
            )

    def flush_pending(self, sub: Obj, invoice: Obj) -> None:
        for pending in sub["_pending"]:
            price = self.store.get("price", pending["price"])
            item = self.store.find("subscription_item", pending["item"])
            self.add_line(
                invoice,
                sub,
                item,
                price,
                pending["quantity"],
                pending["start"],
                pending["end"],
                description=pending["description"],
                amount=pending["amount"],
                proration=True,
            )
        sub["_pending"] = []

    # -- changes ------------------------------------------------------------------------------
    def prorate(
        self,
        sub: Obj,
        item: Obj,
        old_price: Obj | None,
        old_qty: int | None,
        new_price: Obj | None,
        new_qty: int | None,
        at: int,
    ) -> None:
        """Queues credit for unused time and charge for remaining time, as Stripe does."""
        start, end = self.period_start(sub), self.period_end(sub)
        if end <= start or not start <= at < end:
            return
        fraction = Decimal(end - at) / Decimal(end - start)
        when = dt.datetime.fromtimestamp(at, dt.UTC).strftime("%d %b %Y")
        for price, qty, sign, text in (
            (old_price, old_qty, -1, "Unused time on"),
            (new_price, new_qty, 1, "Remaining time on"),
        ):
            if price is None or self.is_metered(price):
                continue
            product = self.store.find("product", price["product"])
            name = product["name"] if product else price["id"]
            amount = sign * int(
                (Decimal(amount_of(price, qty or 1)) * fraction).quantize(
                    Decimal(1), rounding=ROUND_HALF_UP
                )
            )
            sub["_pending"].append(
                {
                    "item": item["id"],
                    "price": price["id"],
                    "quantity": qty or 1,
                    "amount": amount,
                    "start": at,
                    "end": end,
                    "description": f"{text} {qty or 1} x {name} after {when}",
                }
            )

    def invoice_now(self, sub: Obj, reason: str = "subscription_update") -> Obj | None:
        """Bills pending prorations at once (``proration_behavior=always_invoice``)."""
        if not sub["_pending"]:
            return None
        customer = self.store.get("customer", sub["customer"])
        now = self.store.now_for(customer["id"])
        invoice = self.new_invoice(sub, customer, reason, now, now)
        self.flush_pending(sub, invoice)
        self.finalize(invoice)
        self.emit("invoice.created", "invoice", invoice, customer=customer["id"])
        self.emit("invoice.finalized", "invoice", invoice, customer=customer["id"])
        self.attempt_payment(invoice)
        return invoice

    def cancel(
        self, sub: Obj, *, at: int, reason: str, invoice_now: bool = False, prorate: bool = False
    ) -> None:
        customer = self.store.get("customer", sub["customer"])
        if prorate:
            for item in self.items(sub):
                price = self.store.get("price", item["price"])
                self.prorate(sub, item, price, item["quantity"], None, None, at)
        if invoice_now:
            invoice = self.new_invoice(
                sub, customer, "subscription_cycle", self.period_start(sub), at
            )
            for item in self.items(sub):
                price = self.store.get("price", item["price"])
                meter = self.store.find(
                    "billing.meter", (price.get("recurring") or {}).get("meter") or ""
                )
                if meter is not None:
                    used = self.usage(meter, customer["id"], self.period_start(sub), at)
                    self.add_line(invoice, sub, item, price, used, self.period_start(sub), at)
            self.flush_pending(sub, invoice)
            self.finalize(invoice)
            self.emit("invoice.created", "invoice", invoice, customer=customer["id"])
            self.emit("invoice.finalized", "invoice", invoice, customer=customer["id"])
            self.attempt_payment(invoice)
        sub["status"] = "canceled"
        sub["canceled_at"] = sub["canceled_at"] or at
        sub["ended_at"] = at
        sub["cancellation_details"]["reason"] = reason
        self.emit("customer.subscription.deleted", "subscription", sub, customer=customer["id"])
