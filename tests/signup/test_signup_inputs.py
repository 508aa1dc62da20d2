"""Bad signups get their 4xx and create nothing; a repeated request joins the first."""

from __future__ import annotations

from collections.abc import Callable

from temporalio.client import Client

from devstack.admin import EmulatorAdmin
from tests.fixtures.stack import Stack
from tests.fixtures.temporal import visible_workflow_ids

GOOD = {"email": "owner@example.com", "subdomain": "good-name", "tier": "starter"}

BAD_INPUTS = [
    ({"email": "not-an-email"}, "email"),
    ({"subdomain": "ab"}, "subdomain"),
    ({"subdomain": "a" * 64}, "subdomain"),
    ({"subdomain": "-leading"}, "subdomain"),
    ({"subdomain": "trailing-"}, "subdomain"),
    ({"subdomain": "Upper"}, "subdomain"),
    ({"subdomain": "under_score"}, "subdomain"),
    ({"subdomain": "xn--punycode"}, "subdomain"),
    ({"subdomain": "www"}, "subdomain"),
    ({"subdomain": "admin"}, "subdomain"),
    ({"subdomain": "admin\n"}, "subdomain"),
    ({"subdomain": "good-name\n"}, "subdomain"),
    ({"tier": "gold"}, "tier"),
]


async def workflows_on(client: Client, task_queue: str, at_least: int = 0) -> list[str]:
    """The signup workflows on the stack's queue (its health-sweep schedule fires too)."""
    query = f'TaskQueue = "{task_queue}" AND WorkflowType = "SignupWorkflow"'
    return await visible_workflow_ids(client, query, at_least)


async def test_bad_inputs_get_422_and_create_nothing(stack: Stack, temporal_client: Client) -> None:
    with stack.api.client() as http:
        for change, field in BAD_INPUTS:
            response = http.post("/v1/signups", json={**GOOD, **change})
            assert response.status_code == 422, (change, response.text)
            error = response.json()["error"]
            assert error["code"] == "invalid_input"
            assert error["details"]["fields"][0]["field"] == field, (change, error)
        missing = http.post("/v1/signups", json={"email": "a@example.com"})
        assert missing.status_code == 422
        not_json = http.post(
            "/v1/signups", content=b"{", headers={"Content-Type": "application/json"}
        )
        assert not_json.status_code == 422

    assert await workflows_on(temporal_client, stack.settings.task_queue) == []
    stripe_admin = EmulatorAdmin(stack.stripe_url)
    assert stripe_admin.requests("customers.create") == []
    assert stack.servers() == []


async def test_repeat_joins_the_signup_and_another_email_gets_409(
    stack: Stack, temporal_client: Client
) -> None:
    first = stack.signup("beta", email="one@example.com")
    again = stack.signup("beta", email="ONE@example.com")
    assert again["signup_id"] == first["signup_id"]
    assert again["checkout_url"] == first["checkout_url"]
    assert again["status_token"] == first["status_token"]

    with stack.api.client() as http:
        taken = http.post(
            "/v1/signups", json={"email": "two@example.com", "subdomain": "beta", "tier": "starter"}
        )
        other_tier = http.post(
            "/v1/signups", json={"email": "one@example.com", "subdomain": "beta", "tier": "pro"}
        )
    for response in (taken, other_tier):
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "subdomain_taken"

    assert await workflows_on(temporal_client, stack.settings.task_queue, 1) == ["signup-beta"]
    stripe_admin = EmulatorAdmin(stack.stripe_url)
    assert len(stripe_admin.requests("customers.create")) == 1
    assert stack.signup_status(first)["status"] == "pending"


def test_status_needs_the_right_token(stack: Stack) -> None:
    created = stack.signup("gamma")
    with stack.api.client() as http:
        real = created["status_token"]
        # The real token with its last character changed (never to itself).
        near = real[:-1] + ("1" if real[-1] == "0" else "0")
        for token in ("wrong", "", near):
            response = http.get(
                f"/v1/signups/{created['signup_id']}", params={"status_token": token}
            )
            assert response.status_code == 404, response.text
        assert http.get(f"/v1/signups/{created['signup_id']}").status_code == 404
        assert http.get("/v1/signups/not-a-uuid").status_code == 422


async def test_signups_are_rate_limited_per_client(
    stack_factory: Callable[..., Stack], temporal_client: Client
) -> None:
    stack = stack_factory(signup_rate_limit_per_minute=2)
    stack.signup("rate-one")
    stack.signup("rate-two")
    with stack.api.client() as http:
        limited = http.post("/v1/signups", json={**GOOD, "subdomain": "rate-three"})
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    assert await workflows_on(temporal_client, stack.settings.task_queue, 2) == [
        "signup-rate-one",
        "signup-rate-two",
    ]


def test_a_slow_checkout_answers_503_and_the_same_request_joins_it_later(
    stack_factory: Callable[..., Stack],
) -> None:
    """No worker yet: the Checkout URL does not come in time; nothing is lost meanwhile."""
    stack = stack_factory(start_worker=False, signup_checkout_wait=1)
    body = {**GOOD, "subdomain": "patient"}
    with stack.api.client() as http:
        pending = http.post("/v1/signups", json=body)
    assert pending.status_code == 503, pending.text
    assert pending.json()["error"]["code"] == "checkout_pending"
    assert int(pending.headers["Retry-After"]) >= 1

    stack.start_worker()
    joined = stack.signup("patient")
    assert joined["checkout_url"]
    assert stack.signup_status(joined)["status"] == "pending"
    assert len(EmulatorAdmin(stack.stripe_url).requests("customers.create")) == 1
