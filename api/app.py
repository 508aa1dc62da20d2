"""The FastAPI application: a thin layer that validates requests and starts workflows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from temporalio.client import Client

from api.body_limit import BodyLimitMiddleware
from api.errors import install_error_handlers
from api.idempotency import IdempotencyMiddleware
from api.metrics import ApiMetrics, install_metrics
from api.ratelimit import RateLimiter
from api.responses import install_openapi
from api.routers import (
    accounts,
    billing,
    edge,
    health,
    hosts,
    keys,
    pods,
    signups,
    team,
    usage,
    webhooks,
)
from api.routers.admin import routers as admin_routers
from db.session import make_async_engine, make_async_sessionmaker
from tenantry.clients.sdk import stripe_client
from tenantry.clients.temporal import connect
from tenantry.observability.asgi import TracingMiddleware
from tenantry.observability.tracing import flush_tracing, tracer
from tenantry.settings import ApiSettings

SERVICE = "tenantry-api"


def create_app(settings: ApiSettings | None = None, *, temporal: Client | None = None) -> FastAPI:
    """Builds the app; tests pass their own settings and Temporal client."""
    settings = settings or ApiSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_async_engine(settings.database_url)
        app.state.engine = engine
        app.state.sessions = make_async_sessionmaker(engine)
        app.state.temporal = temporal or await connect(settings, lazy=True, service=SERVICE)
        app.state.stripe = stripe_client(settings)
        try:
            yield
        finally:
            await engine.dispose()
            flush_tracing(settings, SERVICE)

    # Production publishes no schema or docs pages (404): the routes list is a map for
    # whoever probes the API; operators read it from a dev or staging process.
    docs = settings.env != "production"
    app = FastAPI(
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
        title="Tenantry",
        version="0.1.0",
        summary="Control plane: signups, tenants, pods, metering and fleet operations.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = ApiMetrics()
    install_error_handlers(app)
    install_openapi(app)
    install_metrics(app, app.state.metrics)
    app.add_middleware(IdempotencyMiddleware)
    if (spans := tracer(settings, SERVICE)) is not None:
        app.add_middleware(TracingMiddleware, tracer=spans)
    app.state.signup_limiter = RateLimiter(settings.signup_rate_limit_per_minute)
    app.state.account_limiter = RateLimiter(settings.account_rate_limit_per_minute)
    app.state.account_verify_limiter = RateLimiter(settings.account_rate_limit_per_minute)
    app.state.account_mail_limiter = RateLimiter(
        settings.account_mails_per_email_per_hour, window_seconds=3600
    )
    # Outermost, so that no other layer reads a body over the limit first.
    app.add_middleware(
        BodyLimitMiddleware,
        default_limit=settings.max_body_bytes,
        limits={webhooks.WEBHOOK_PATH: settings.webhook_max_body_bytes},
    )
    # One router per URL prefix: the public and account-facing ones, the agents', then
    # the admin package's (each of those carries the admin token check itself).
    modules = (health, signups, accounts, webhooks, team, keys, pods, hosts, usage, billing, edge)
    for module in modules:
        app.include_router(module.router)
    for router in admin_routers:
        app.include_router(router)
    return app
