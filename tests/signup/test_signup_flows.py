"""Manual approval, checkout expiry, missed webhooks, and the CLI a customer would use."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx

from devstack.procs import free_port
from tests.fixtures.api import ADMIN_TOKEN
from tests.fixtures.stack import STRIPE_KEY, Stack
from tests.support.checkout import pay


def tenantry(
    *args: str, api_url: str, token: str | None = ADMIN_TOKEN
) -> subprocess.CompletedProcess[str]:
    binary = str(Path(sys.executable).with_name("tenantry"))
    auth = ["--token", token] if token else []
    return subprocess.run(
        [binary, *args, "--api-url", api_url, *auth],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_manual_approval_then_active_and_reject_cancels(
    stack_factory: Callable[..., Stack],
) -> None:
    stack = stack_factory(approval_mode="manual")
    approved = stack.signup("approve-me", email="yes@example.com")
    rejected = stack.signup("reject-me", email="no@example.com")
    pay(approved["checkout_url"])
    pay(rejected["checkout_url"])
    for created in (approved, rejected):
        stack.wait_signup(created, until=lambda s: s["status"] == "awaiting_approval")

    listed = tenantry(
        "signup", "list", "--status", "awaiting_approval", "--json", api_url=stack.api.url
    )
    assert listed.returncode == 0, listed.stderr
    assert sorted(r["subdomain"] for r in json.loads(listed.stdout)) == ["approve-me", "reject-me"]

    ok = tenantry("signup", "approve", approved["signup_id"], api_url=stack.api.url)
    assert ok.returncode == 0, ok.stderr
    no = tenantry(
        "signup", "reject", rejected["signup_id"], "--reason", "not a fit", api_url=stack.api.url
    )
    assert no.returncode == 0, no.stderr

    stack.wait_active(approved)
    final = stack.wait_signup(rejected)
    assert final["status"] == "rejected" and final["error"] == "not a fit"
    # Deciding twice is a conflict, answered 409 and exit code 2.
    again = tenantry("signup", "approve", rejected["signup_id"], api_url=stack.api.url)
    assert again.returncode == 2 and "409" in again.stderr
    assert [s.name for s in stack.servers()] == ["tenant-approve-me"]
    client = stack.stripe()
    (customer,) = client.v1.customers.list(params={"email": "no@example.com"}).data
    subs = client.v1.subscriptions.list(params={"customer": customer.id, "status": "all"}).data
    assert [s.status for s in subs] == ["canceled"]
    stack.mailbox.wait_for(to="no@example.com", subject_contains="not approved", timeout=10)


def test_unpaid_checkout_expires_and_frees_the_subdomain(
    stack_factory: Callable[..., Stack],
) -> None:
    stack = stack_factory(checkout_expiry=2)
    first = stack.signup("expiring", email="late@example.com")
    final = stack.wait_signup(first, timeout=30)
    assert final["status"] == "expired"
    session_id = first["checkout_url"].rstrip("/").rsplit("/", 1)[-1]
    assert stack.stripe().v1.checkout.sessions.retrieve(session_id).status == "expired"

    second = stack.signup("expiring", email="someone-else@example.com")
    assert second["signup_id"] != first["signup_id"]
    assert second["status"] == "pending"


def test_missed_webhooks_are_recovered_from_stripe(stack_factory: Callable[..., Stack]) -> None:
    stack = stack_factory(webhook=False)
    # Stripe's deliveries go to an endpoint that is down, so they fail.
    dead = f"http://127.0.0.1:{free_port()}/v1/stripe/webhook"
    stack.stripe().v1.webhook_endpoints.create(params={"url": dead, "enabled_events": ["*"]})
    created = stack.signup("missed")
    pay(created["checkout_url"])
    undelivered = httpx.get(
        f"{stack.stripe_url}/v1/events",
        params={"delivery_success": "false", "type": "checkout.session.completed"},
        headers={"Authorization": f"Bearer {STRIPE_KEY}"},
    ).json()["data"]
    assert len(undelivered) == 1
    assert stack.signup_status(created)["status"] == "pending"

    first = tenantry("webhooks", "recover", "--json", api_url=stack.api.url)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["outcomes"]["routed"] == 1
    assert stack.wait_signup(created)["status"] == "active"

    again = tenantry("webhooks", "recover", "--json", api_url=stack.api.url)
    report = json.loads(again.stdout)
    assert report["outcomes"].get("routed", 0) == 0 and report["outcomes"]["duplicate"] >= 1
    assert len(stack.servers()) == 1


def test_cli_signup_follows_to_active(stack: Stack) -> None:
    created = tenantry(
        "signup", "create", "--email", "cli@example.com", "--subdomain", "from-cli", "--json",
        api_url=stack.api.url, token=None,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    body = json.loads(created.stdout)
    pay(body["checkout_url"])
    followed = tenantry(
        "signup", "status", body["signup_id"], "--status-token", body["status_token"], "--wait",
        api_url=stack.api.url, token=None,
    )  # fmt: skip
    assert followed.returncode == 0, followed.stderr
    assert "active" in followed.stdout and "from-cli" in followed.stdout
    assert "provisioning" in followed.stderr  # progress lines

    taken = tenantry(
        "signup", "create", "--email", "x@example.com", "--subdomain", "from-cli",
        api_url=stack.api.url, token=None,
    )  # fmt: skip
    assert taken.returncode == 2 and "subdomain_taken" in taken.stderr
    unreachable = tenantry("tenants", "list", api_url=f"http://127.0.0.1:{free_port()}")
    assert unreachable.returncode == 1 and "cannot reach" in unreachable.stderr
