"""Idempotency-Key semantics, fault injection and rate limiting, as the stripe client sees them."""

from __future__ import annotations

import pytest
import stripe

from devstack.faults import FaultRule
from tests.fixtures.stripe import StripeEmulator


def test_same_key_same_params_replays_first_response(stripe_client: stripe.StripeClient) -> None:
    params = {"email": "a@example.com", "metadata": {"signup": "1"}}
    first = stripe_client.v1.customers.create(params=params, options={"idempotency_key": "k1"})
    second = stripe_client.v1.customers.create(params=params, options={"idempotency_key": "k1"})
    assert second.id == first.id
    assert second.last_response.headers.get("Idempotent-Replayed") == "true"
    assert first.last_response.headers.get("Idempotent-Replayed") is None
    assert len(stripe_client.v1.customers.list().data) == 1


def test_same_key_other_params_is_an_idempotency_error(stripe_client: stripe.StripeClient) -> None:
    stripe_client.v1.customers.create(
        params={"email": "a@example.com"}, options={"idempotency_key": "k2"}
    )
    with pytest.raises(stripe.IdempotencyError) as err:
        stripe_client.v1.customers.create(
            params={"email": "b@example.com"}, options={"idempotency_key": "k2"}
        )
    assert err.value.http_status == 400
    assert err.value.error is not None and err.value.error.type == "idempotency_error"
    assert "same parameters" in str(err.value.user_message)
    with pytest.raises(stripe.IdempotencyError):
        stripe_client.v1.products.create(params={"name": "x"}, options={"idempotency_key": "k2"})


def test_keys_expire_after_24_hours(
    stripe_env: StripeEmulator, stripe_client: stripe.StripeClient
) -> None:
    first = stripe_client.v1.customers.create(options={"idempotency_key": "k3"})
    stripe_env.advance(24 * 3600 + 1)
    second = stripe_client.v1.customers.create(options={"idempotency_key": "k3"})
    assert second.id != first.id


def test_card_errors_are_replayed_but_validation_errors_are_not(
    stripe_client: stripe.StripeClient,
) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.prices.create(
            params={"currency": "usd"}, options={"idempotency_key": "k4"}
        )
    product = stripe_client.v1.products.create(params={"name": "p"})
    price = stripe_client.v1.prices.create(
        params={"currency": "usd", "product": product.id, "unit_amount": 100},
        options={"idempotency_key": "k4"},
    )
    assert price.unit_amount == 100


def test_dropped_response_retried_with_same_key_creates_exactly_once(
    stripe_env: StripeEmulator,
) -> None:
    client = stripe_env.client(retries=2)
    stripe_env.admin.inject(FaultRule(operation="customers.create", action="drop", times=1))
    customer = client.v1.customers.create(params={"email": "once@example.com"})
    customers = client.v1.customers.list(params={"email": "once@example.com"}).data
    assert [c.id for c in customers] == [customer.id]
    log = stripe_env.admin.requests("customers.create")
    assert [e.fault for e in log] == ["drop", None]
    assert log[0].idempotency_key == log[1].idempotency_key is not None


def test_injected_error_has_stripe_body_and_is_retried(stripe_env: StripeEmulator) -> None:
    stripe_env.admin.inject(
        FaultRule(
            operation="products.create", status=500, times=1, code="api_error", message="boom"
        )
    )
    with pytest.raises(stripe.APIError) as err:
        stripe_env.client().v1.products.create(params={"name": "p"})
    assert err.value.http_status == 500 and err.value.user_message == "boom"
    stripe_env.admin.inject(FaultRule(operation="products.create", status=500, times=1))
    product = stripe_env.client(retries=1).v1.products.create(params={"name": "p"})
    assert stripe_env.client().v1.products.retrieve(product.id).name == "p"


def test_rate_limit_fault_and_configured_limit(stripe_env: StripeEmulator) -> None:
    client = stripe_env.client()
    stripe_env.admin.inject(
        FaultRule(
            operation="*",
            status=429,
            code="rate_limit",
            message="Request rate limit exceeded.",
            times=1,
        )
    )
    with pytest.raises(stripe.RateLimitError) as err:
        client.v1.customers.list()
    assert err.value.http_status == 429
    assert err.value.error is not None and err.value.error.code == "rate_limit"
    stripe_env.admin.post("/_admin/rate_limit", {"requests_per_second": 0.001, "burst": 2})
    client.v1.customers.list()
    client.v1.customers.list()
    with pytest.raises(stripe.RateLimitError) as err:
        client.v1.customers.list()
    assert err.value.error is not None and err.value.error.code == "rate_limit"
    stripe_env.admin.post("/_admin/rate_limit", {"requests_per_second": None})
    client.v1.customers.list()


def test_errors_for_missing_objects_and_unknown_urls(stripe_client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as err:
        stripe_client.v1.customers.retrieve("cus_nope")
    assert err.value.http_status == 404 and err.value.code == "resource_missing"
    assert err.value.param == "id"
    with pytest.raises(stripe.InvalidRequestError) as err:
        stripe_client.raw_request("get", "/v1/nothing_here")
    assert err.value.http_status == 404


def test_pagination_cursors(stripe_client: stripe.StripeClient) -> None:
    ids = [stripe_client.v1.customers.create().id for _ in range(5)]
    newest_first = list(reversed(ids))
    page = stripe_client.v1.customers.list(params={"limit": 2})
    assert [c.id for c in page.data] == newest_first[:2] and page.has_more
    page = stripe_client.v1.customers.list(params={"limit": 2, "starting_after": ids[3]})
    assert [c.id for c in page.data] == newest_first[2:4] and page.has_more
    page = stripe_client.v1.customers.list(params={"limit": 3, "ending_before": ids[0]})
    assert [c.id for c in page.data] == newest_first[1:4] and page.has_more
    everything = [
        c.id for c in stripe_client.v1.customers.list(params={"limit": 2}).auto_paging_iter()
    ]
    assert everything == newest_first
