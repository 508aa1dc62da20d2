"""The route table: every (method, path) the API serves, and who may call it.

Committed as a list so that moving routers between modules (or adding one) cannot drop
a route or its guard unnoticed: a route without its admin, host, edge or API-key check would
otherwise still answer, to anyone. A new route is added here on purpose.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from fastapi.routing import APIRoute

from api.app import create_app
from tests.fixtures.api import api_settings

ADMIN, HOST, ACCOUNT, PUBLIC = "admin", "host", "account", "public"
JOIN, AGENT = "join token", "host or edge"
GUARDS = {
    "require_admin": ADMIN,
    "join_token_hash": JOIN,
    "current_host": HOST,
    "host_or_edge": AGENT,
    "current_account": ACCOUNT,
}
WAKE_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")

EXPECTED = {
    ("GET", "/healthz", PUBLIC),
    ("GET", "/readyz", PUBLIC),
    ("GET", "/metrics", PUBLIC),
    ("POST", "/v1/signups", PUBLIC),
    ("GET", "/v1/signups/{signup_id}", PUBLIC),
    ("GET", "/v1/signups/{signup_id}/paid", PUBLIC),
    ("GET", "/v1/signups/{signup_id}/cancelled", PUBLIC),
    ("POST", "/v1/accounts", PUBLIC),
    ("POST", "/v1/accounts/verify", PUBLIC),
    ("GET", "/v1/accounts/verify", PUBLIC),
    ("POST", "/v1/stripe/webhook", PUBLIC),
    *((method, "/v1/edge/wake", PUBLIC) for method in WAKE_METHODS),
    ("GET", "/v1/team", ACCOUNT),
    ("POST", "/v1/team/invites", ACCOUNT),
    ("POST", "/v1/team/join", ACCOUNT),
    ("GET", "/v1/keys", ACCOUNT),
    ("POST", "/v1/keys", ACCOUNT),
    ("DELETE", "/v1/keys/{key_id}", ACCOUNT),
    ("GET", "/v1/usage", ACCOUNT),
    ("POST", "/v1/billing/payment-method", ACCOUNT),
    ("GET", "/v1/billing/invoices", ACCOUNT),
    ("GET", "/v1/billing/portal", ACCOUNT),
    ("POST", "/v1/pods", ACCOUNT),
    ("GET", "/v1/pods", ACCOUNT),
    ("GET", "/v1/pods/{pod_id}", ACCOUNT),
    ("POST", "/v1/pods/{pod_id}/hibernate", ACCOUNT),
    ("POST", "/v1/pods/{pod_id}/restore", ACCOUNT),
    ("POST", "/v1/pods/{pod_id}/keepalive", ACCOUNT),
    ("DELETE", "/v1/pods/{pod_id}", ACCOUNT),
    ("POST", "/v1/hosts/register", JOIN),
    ("POST", "/v1/hosts/{host_id}/heartbeat", HOST),
    ("POST", "/v1/hosts/activity", AGENT),
    ("GET", "/v1/admin/signups", ADMIN),
    ("POST", "/v1/admin/signups/{signup_id}/approve", ADMIN),
    ("POST", "/v1/admin/signups/{signup_id}/reject", ADMIN),
    ("GET", "/v1/admin/pool", ADMIN),
    ("GET", "/v1/admin/tenants", ADMIN),
    ("GET", "/v1/admin/tenants/{tenant_id}", ADMIN),
    ("POST", "/v1/admin/tenants/{tenant_id}/suspend", ADMIN),
    ("POST", "/v1/admin/tenants/{tenant_id}/unsuspend", ADMIN),
    ("POST", "/v1/admin/tenants/{tenant_id}/tier", ADMIN),
    ("DELETE", "/v1/admin/tenants/{tenant_id}", ADMIN),
    ("POST", "/v1/admin/accounts", ADMIN),
    ("GET", "/v1/admin/accounts/{account_id}/credits", ADMIN),
    ("POST", "/v1/admin/accounts/{account_id}/credits", ADMIN),
    ("GET", "/v1/admin/health", ADMIN),
    ("POST", "/v1/admin/health/sweep", ADMIN),
    ("GET", "/v1/admin/hosts", ADMIN),
    ("POST", "/v1/admin/hosts/join-tokens", ADMIN),
    ("POST", "/v1/admin/hosts/{host_id}/approve", ADMIN),
    ("POST", "/v1/admin/hosts/{host_id}/cordon", ADMIN),
    ("POST", "/v1/admin/hosts/{host_id}/drain", ADMIN),
    ("DELETE", "/v1/admin/hosts/{host_id}", ADMIN),
    ("POST", "/v1/admin/metering/run", ADMIN),
    ("GET", "/v1/admin/reconciliation", ADMIN),
    ("POST", "/v1/admin/stripe/recover", ADMIN),
    ("POST", "/v1/admin/rollouts", ADMIN),
    ("GET", "/v1/admin/rollouts", ADMIN),
    ("GET", "/v1/admin/rollouts/{rollout_id}", ADMIN),
    ("POST", "/v1/admin/rollouts/{rollout_id}/pause", ADMIN),
    ("POST", "/v1/admin/rollouts/{rollout_id}/resume", ADMIN),
    ("POST", "/v1/admin/rollouts/{rollout_id}/cancel", ADMIN),
}


def _api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """The app's endpoints, through included routers however FastAPI nests them."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # FastAPI >= 0.16x keeps inclusions nested
            yield from _api_routes(route.original_router.routes)


def _guard(route: APIRoute) -> str:
    names = {d.call.__name__ for d in route.dependant.dependencies if d.call is not None}
    guards = {GUARDS[name] for name in names & GUARDS.keys()}
    assert len(guards) <= 1, f"{route.path} has more than one guard: {guards}"
    return guards.pop() if guards else PUBLIC


def test_route_table_and_guards_are_as_committed() -> None:
    app = create_app(api_settings())
    served = [
        (method, route.path_format, _guard(route))  # the path without convertors
        for route in _api_routes(app.router.routes)
        for method in route.methods
    ]
    assert len(served) == len(set(served)), "a (method, path) is served twice"
    assert set(served) == EXPECTED


def test_every_admin_path_is_guarded_by_the_admin_token() -> None:
    app = create_app(api_settings())
    for route in _api_routes(app.router.routes):
        if route.path.startswith("/v1/admin"):
            assert _guard(route) == ADMIN, route.path
