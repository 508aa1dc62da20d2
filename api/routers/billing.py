"""Pod usage billing for the calling account (API key): add a card, open the billing
portal, list invoices. The team owner pays for the team, so only the owner manages
billing (a member gets 403); another account's invoice is never visible (404).

The card is added through Stripe Checkout in setup mode; its verified webhook makes the
account's metered subscription (`AccountBillingWorkflow`, `account-billing-{id}`).
Invoices are read from Stripe, for the account's own customer only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import stripe
from fastapi import APIRouter, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import CurrentAccount, SessionDep, SettingsDep
from api.errors import ApiError
from api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from api.responses import errors
from api.schemas.billing import CheckoutLink, InvoiceLine, InvoiceView, PortalLink
from db.models import Account
from db.repo.account_billing import set_account_customer
from tenantry.rules.plans import CURRENCY, MeteredPrice, metered_prices

router = APIRouter(prefix="/v1/billing", tags=["billing"], responses=errors(401, 403, 503))
log = logging.getLogger(__name__)

INVOICE_ID = r"^in_[A-Za-z0-9]{1,64}$"
T = TypeVar("T")


@router.post("/payment-method", status_code=201, response_model=CheckoutLink)
async def add_payment_method(
    *, request: Request, account: CurrentAccount, session: SessionDep, settings: SettingsDep
) -> CheckoutLink:
    """A Checkout page (setup mode) where the owner adds the card pod usage is billed to;
    once it completes, the account has its metered subscription."""
    client = _owner_client(request, account)
    customer = await _customer(client, session, account)
    checkout = await _stripe(
        lambda: client.v1.checkout.sessions.create(
            params={
                "mode": "setup",
                "customer": customer,
                "currency": CURRENCY,
                "success_url": f"{settings.public_url}/?billing=card-added",
                "cancel_url": f"{settings.public_url}/?billing=cancelled",
                "metadata": {"account_id": str(account.id)},
            }
        )
    )
    assert checkout.url is not None
    return CheckoutLink(checkout_url=checkout.url)


@router.get("/portal", response_model=PortalLink)
async def billing_portal(
    *, request: Request, account: CurrentAccount, session: SessionDep, settings: SettingsDep
) -> PortalLink:
    """Stripe's billing portal for the account: its invoices, and changing the card."""
    client = _owner_client(request, account)
    customer = await _customer(client, session, account)
    portal = await _stripe(
        lambda: client.v1.billing_portal.sessions.create(
            params={"customer": customer, "return_url": settings.public_url}
        )
    )
    return PortalLink(url=portal.url)


@router.get("/invoices", response_model=Page[InvoiceView], responses=errors(404, 422))
async def list_invoices(
    *,
    request: Request,
    account: CurrentAccount,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    starting_after: Annotated[
        str | None, Query(pattern=INVOICE_ID, description="the last invoice of the previous page")
    ] = None,
) -> Page[InvoiceView]:
    """The account's invoices, newest first, with their lines."""
    client = _owner_client(request, account)
    url = request.url.path
    customer = account.stripe_customer_id
    if customer is None:
        if starting_after is not None:
            raise _unknown_cursor()
        return Page[InvoiceView](data=[], has_more=False, url=url)
    if starting_after is not None:
        cursor = await _stripe(lambda: _invoice_or_none(client, starting_after))
        if cursor is None or cursor.customer != customer:
            raise _unknown_cursor()
    params: dict[str, Any] = {"customer": customer, "limit": limit}
    if starting_after:
        params["starting_after"] = starting_after
    found = await _stripe(lambda: client.v1.invoices.list(params=params))  # type: ignore[arg-type]
    prices = await _stripe(lambda: _metered_price_ids(client)) if found.data else {}
    return Page[InvoiceView](
        data=[invoice_view(i, prices) for i in found.data], has_more=found.has_more, url=url
    )


# -- helpers ------------------------------------------------------------------------------
def _owner_client(request: Request, account: Account) -> stripe.StripeClient:
    if account.team_owner_id is not None:
        raise ApiError(403, "forbidden", "the team owner manages billing for the team")
    client: stripe.StripeClient = request.app.state.stripe
    return client


async def _customer(client: stripe.StripeClient, session: AsyncSession, account: Account) -> str:
    """The account's Stripe customer, created once (the key metering uses too)."""
    if account.stripe_customer_id:
        return account.stripe_customer_id
    created = await _stripe(
        lambda: client.v1.customers.create(
            params={"email": account.email, "metadata": {"account_id": str(account.id)}},
            options={"idempotency_key": f"account-customer:{account.id}"},
        )
    )
    return await set_account_customer(session, account.id, created.id)


def _invoice_or_none(client: stripe.StripeClient, invoice_id: str) -> stripe.Invoice | None:
    try:
        return client.v1.invoices.retrieve(invoice_id)
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:
            return None
        raise


def _unknown_cursor() -> ApiError:
    return ApiError(
        404,
        "not_found",
        "starting_after names no invoice in this list",
        {"field": "starting_after"},
    )


async def _stripe(call: Callable[[], T]) -> T:
    """Runs a (synchronous) Stripe call off the event loop; Stripe failing is a 503."""
    try:
        return await asyncio.to_thread(call)
    except stripe.StripeError as exc:
        log.warning("stripe call failed: %s", exc.code or type(exc).__name__)
        raise ApiError(503, "unavailable", "billing is unavailable now; try again") from exc


def _when(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def invoice_view(invoice: stripe.Invoice, prices: dict[str, MeteredPrice]) -> InvoiceView:
    return InvoiceView(
        id=invoice.id,
        number=invoice.number,
        status=invoice.status,
        currency=invoice.currency,
        total_cents=invoice.total,
        amount_due_cents=invoice.amount_due,
        amount_paid_cents=invoice.amount_paid,
        period_start=_when(invoice.period_start),
        period_end=_when(invoice.period_end),
        created=_when(invoice.created),
        hosted_invoice_url=invoice.hosted_invoice_url,
        lines=[_line(line, prices) for line in invoice.lines.data],
    )


def _metered_price_ids(client: stripe.StripeClient) -> dict[str, MeteredPrice]:
    """Our metered prices at Stripe by price id, to name each line's meter."""
    specs = {spec.lookup_key: spec for spec in metered_prices()}
    found = client.v1.prices.list(params={"lookup_keys": list(specs), "limit": 100})
    return {p.id: specs[p.lookup_key] for p in found.data if p.lookup_key in specs}


def _line(line: Any, prices: dict[str, MeteredPrice]) -> InvoiceLine:
    data = line.to_dict(recursive=True)
    price_id = ((data.get("pricing") or {}).get("price_details") or {}).get("price")
    spec = prices.get(str(price_id)) if price_id else None
    quantity = data.get("quantity")
    billed = quantity
    if spec is not None and quantity is not None:
        billed = -(-int(quantity) // spec.divide_by)  # started packages, as priced
    return InvoiceLine(
        description=data.get("description"),
        meter_event_name=spec.meter_event_name if spec else None,
        quantity=quantity,
        billed_units=billed,
        amount_cents=int(data.get("amount") or 0),
        period_start=_when(int(data["period"]["start"])),
        period_end=_when(int(data["period"]["end"])),
    )


__all__ = ["router"]
