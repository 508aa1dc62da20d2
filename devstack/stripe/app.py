"""Builds the emulator's aiohttp application and runs its background housekeeping."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from devstack.faults import FaultInjector, add_admin_routes
from devstack.stripe.billing import Billing
from devstack.stripe.context import EMULATOR, Config, Emulator, RateLimiter
from devstack.stripe.errors import error_body
from devstack.stripe.middleware import stripe_middleware
from devstack.stripe.routes import add_routes
from devstack.stripe.routes.checkout import expire
from devstack.stripe.store import Store
from devstack.stripe.webhooks import EventBus

log = logging.getLogger("devstack.stripe")


def build_emulator(config: Config) -> Emulator:
    store = Store.load(config.state_file) if config.state_file else Store()
    bus = EventBus(store, retry_delays=list(config.retry_delays), timeout=config.webhook_timeout)
    billing = Billing(store, bus, config.base_url)
    limiter = RateLimiter()
    limiter.configure(config.rate_limit, config.rate_burst)
    return Emulator(config, store, bus, billing, limiter)


def housekeeping(emu: Emulator) -> None:
    """What the passing of (account) time does: renewals, expiring sessions and keys."""
    store = emu.store
    emu.billing.advance(None)
    for session in store.all("checkout.session"):
        if session["status"] == "open" and session["expires_at"] <= store.now_for(
            session["customer"]
        ):
            expire(emu, session)
            emu.dirty = True
    now = store.now()
    for key, entry in list(store.idempotency.items()):
        if entry.created + 24 * 3600 <= now:
            del store.idempotency[key]


async def _ticker(emu: Emulator) -> None:
    while True:
        await asyncio.sleep(emu.config.tick)
        try:
            housekeeping(emu)
            if emu.dirty and emu.config.state_file is not None:
                emu.dirty = False
                emu.store.dump(emu.config.state_file)
        except Exception:
            log.exception("housekeeping failed")


def build_app(config: Config) -> web.Application:
    emu = build_emulator(config)
    app = web.Application()
    app[EMULATOR] = emu

    async def reset_state() -> None:
        emu.bus.reset()
        emu.store.reset()
        emu.stream_errors.clear()
        emu.limiter.configure(config.rate_limit, config.rate_burst)
        emu.dirty = True

    add_admin_routes(app, FaultInjector(error_body=error_body), reset_state)
    app.middlewares.append(stripe_middleware)
    add_routes(app)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await emu.bus.start()
        task = asyncio.create_task(_ticker(emu))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await emu.bus.stop()
        if config.state_file is not None:
            emu.store.dump(config.state_file)

    app.cleanup_ctx.append(lifecycle)
    return app
