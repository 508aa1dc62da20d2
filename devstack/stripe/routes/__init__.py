"""HTTP routes of the Stripe emulator, one module per group of resources."""

from __future__ import annotations

from aiohttp import web

from devstack.stripe.routes import (
    admin,
    billing,
    checkout,
    core,
    events,
    meters,
    payments,
    portal,
    refunds,
)


def add_routes(app: web.Application) -> None:
    for module in (core, checkout, billing, meters, events, payments, portal, refunds, admin):
        app.router.add_routes(module.routes)
