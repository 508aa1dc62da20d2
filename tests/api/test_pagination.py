"""Every list answers in pages, Stripe-style, and walking the pages yields each object once.

The objects are inserted in one transaction, so they share `created_at` (Postgres' `now()`
is the transaction's time): the order must fall back to the id for the cursor to be
exact, which a list ordered by time alone would get wrong.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from db.models import Account, ApiKey, Host, Pod, Rollout, Signup, Tenant, TenantHealth
from db.session import make_engine
from tenantry.cli.http import PAGE_SIZE
from tenantry.crypto import generate_api_key
from tests.fixtures.api import ADMIN_TOKEN, RunningApi

COUNT = 5


def _seed_tenants(session: Session, tag: str) -> None:
    for i in range(COUNT):
        tenant = Tenant(subdomain=f"{tag}-{i}", tier="starter", status="active")
        session.add(tenant)
        session.flush()
        session.add(
            TenantHealth(tenant_id=tenant.id, healthy=i % 2 == 0, checked_at=datetime.now(UTC))
        )


def _seed_signups(session: Session, tag: str) -> None:
    for i in range(COUNT):
        session.add(
            Signup(
                email=f"{tag}{i}@example.com",
                subdomain=f"{tag}-{i}",
                tier="starter",
                status_token_hash=uuid.uuid4().hex,
            )
        )


def _seed_hosts(session: Session, tag: str) -> None:
    for i in range(COUNT):
        session.add(
            Host(name=f"{tag}-{i % 2}-{i}", address=f"127.0.20.{i}", ssh_host_key="ssh-ed25519 A")
        )


def _seed_rollouts(session: Session, tag: str) -> None:
    for _ in range(COUNT):
        rollout = Rollout(tag=tag, parallelism=1, canary=0, status="completed")
        session.add(rollout)
        session.flush()
        rollout.live = (
            None  # finished: no longer the one live rollout (an INSERT takes the default)
        )
        session.flush()


@dataclass(frozen=True)
class ListRoute:
    path: str
    id_field: str
    seed: Callable[[Session, str], None]
    params: dict[str, str] | None = None


ROUTES = [
    ListRoute("/v1/admin/tenants", "tenant_id", _seed_tenants),
    ListRoute("/v1/admin/tenants", "tenant_id", _seed_tenants, {"status": "active"}),
    ListRoute("/v1/admin/signups", "signup_id", _seed_signups),
    ListRoute("/v1/admin/hosts", "host_id", _seed_hosts),
    ListRoute("/v1/admin/health", "tenant_id", _seed_tenants),
    ListRoute("/v1/admin/rollouts", "rollout_id", _seed_rollouts),
    ListRoute("/v1/pods", "pod_id", lambda session, tag: None),  # seeded per account below
]


def _seed_pods(database_url: str) -> str:
    """An account with COUNT pods (one destroyed, which the list leaves out); its key."""
    key = generate_api_key()
    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        account = Account(email="pager@example.com")
        session.add(account)
        session.flush()
        session.add(ApiKey(account_id=account.id, prefix=key.prefix, key_hash=key.digest))
        for i in range(COUNT + 1):
            status = "destroyed" if i == COUNT else "running"
            session.add(Pod(account_id=account.id, name=f"p{i}", tier="dev.small", status=status))
    engine.dispose()
    return key.plaintext


def _walk(http: httpx.Client, route: ListRoute, limit: int) -> list[dict[str, Any]]:
    """Every page of `route`, checking each page's shape; the pages' objects in order."""
    params: dict[str, Any] = {**(route.params or {}), "limit": limit}
    pages: list[dict[str, Any]] = []
    while True:
        response = http.get(route.path, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"object", "data", "has_more", "url"}
        assert page["object"] == "list" and page["url"] == route.path
        pages.append(page)
        if not page["has_more"]:
            break
        assert len(page["data"]) == limit
        params["starting_after"] = page["data"][-1][route.id_field]
    return [item for page in pages for item in page["data"]]


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.path}{r.params or ''}")
def test_pages_follow_each_other_without_gaps_or_repeats(
    api: RunningApi, database_url: str, route: ListRoute
) -> None:
    if route.path == "/v1/pods":
        token = _seed_pods(database_url)
    else:
        token = ADMIN_TOKEN
        engine = make_engine(database_url)
        with Session(engine) as session, session.begin():
            route.seed(session, "pg")
        engine.dispose()

    with api.client(token) as http:
        whole = http.get(route.path, params={**(route.params or {}), "limit": 100}).json()
        assert whole["has_more"] is False and len(whole["data"]) == COUNT
        first = http.get(route.path, params={**(route.params or {}), "limit": 2}).json()
        assert first["has_more"] is True and len(first["data"]) == 2
        walked = _walk(http, route, limit=2)

        ids = [item[route.id_field] for item in walked]
        assert ids == [item[route.id_field] for item in whole["data"]]
        assert len(set(ids)) == COUNT

        unknown = http.get(route.path, params={"starting_after": str(uuid.uuid4())})
        assert unknown.status_code == 404, unknown.text
        assert unknown.json()["error"]["details"] == {"field": "starting_after"}
        for bad in ({"limit": 0}, {"limit": 101}, {"starting_after": "not-an-id"}):
            assert http.get(route.path, params=bad).status_code == 422, bad

    default = api.client(token).get(route.path).json()
    assert len(default["data"]) == COUNT  # under the default page size (20)


def test_another_accounts_pod_is_no_cursor(api: RunningApi, database_url: str) -> None:
    owner = _seed_pods(database_url)
    with api.client(owner) as http:
        pod_id = http.get("/v1/pods").json()["data"][0]["pod_id"]
    with api.admin() as admin:
        other = admin.post("/v1/admin/accounts", json={"email": "nosy@example.com"}).json()
    with api.client(other["api_key"]) as http:
        response = http.get("/v1/pods", params={"starting_after": pod_id})
    assert response.status_code == 404, response.text


def test_cli_lists_show_the_first_page_and_say_so_or_every_page_with_all(
    api: RunningApi, database_url: str
) -> None:
    many = PAGE_SIZE + 3  # more than one page of the CLI's page size
    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        session.add_all(Tenant(subdomain=f"cli-{i}", tier="starter") for i in range(many))
    engine.dispose()
    tenantry = str(Path(sys.executable).with_name("tenantry"))
    command = [tenantry, "tenants", "list", "--json", "--api-url", api.url, "--token", ADMIN_TOKEN]

    first = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert len(json.loads(first.stdout)) == PAGE_SIZE
    assert "--all" in first.stderr

    every = subprocess.run([*command, "--all"], capture_output=True, text=True, timeout=60)
    assert every.returncode == 0, every.stderr
    rows = json.loads(every.stdout)
    assert sorted(r["subdomain"] for r in rows) == sorted(f"cli-{i}" for i in range(many))
    assert "--all" not in every.stderr


def test_the_credits_ledger_pages_by_entry_id(api: RunningApi) -> None:
    with api.admin() as admin:
        account_id = admin.post("/v1/admin/accounts", json={"email": "led@example.com"}).json()[
            "account_id"
        ]
        path = f"/v1/admin/accounts/{account_id}/credits"
        for i in range(COUNT):
            body = {"amount_usd": "1.50", "reference": f"inv-{i}"}
            assert admin.post(path, json=body).status_code == 201
        whole = admin.get(path, params={"limit": 100}).json()
        seen: list[int] = []
        params: dict[str, Any] = {"limit": 2}
        while True:
            page = admin.get(path, params=params).json()
            assert page["balance_usd"] == whole["balance_usd"]  # the balance, not the page's
            seen += [e["entry_id"] for e in page["entries"]]
            if not page["has_more"]:
                break
            params["starting_after"] = page["entries"][-1]["entry_id"]
    assert whole["has_more"] is False and float(whole["balance_usd"]) == 1.5 * COUNT
    assert seen == [e["entry_id"] for e in whole["entries"]] and len(set(seen)) == COUNT
    assert seen == sorted(seen, reverse=True)
