"""The Stripe webhook: bad signatures get 400; duplicates, shuffled with others, act once."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from tests.fixtures.stack import MANUAL_WEBHOOK_SECRET, STRIPE_KEY, Stack
from tests.support.checkout import pay
from tests.support.webhooks import deliver, signature

EVENT = {"id": "evt_test_1", "type": "customer.created", "data": {"object": {"id": "cus_1"}}}


@pytest.fixture
def manual(stack_factory: Callable[..., Stack]) -> Stack:
    """A stack whose Stripe events reach the API only when the test delivers them."""
    return stack_factory(webhook=False)


def test_bad_or_stale_signatures_get_400(manual: Stack) -> None:
    url = f"{manual.api.url}/v1/stripe/webhook"
    payload = json.dumps(EVENT).encode()
    now = int(time.time())
    cases = {
        "missing": {},
        "wrong secret": {"Stripe-Signature": signature(payload, "whsec_wrong")},
        "stale": {"Stripe-Signature": signature(payload, MANUAL_WEBHOOK_SECRET, now - 400)},
        "future": {"Stripe-Signature": signature(payload, MANUAL_WEBHOOK_SECRET, now + 400)},
        "garbage": {"Stripe-Signature": "t=abc,v1=def"},
    }
    for name, headers in cases.items():
        response = httpx.post(url, content=payload, headers=headers)
        assert response.status_code == 400, (name, response.text)
        assert response.json()["error"]["code"] == "invalid_signature", name
    tampered = payload.replace(b"cus_1", b"cus_2")
    response = httpx.post(
        url,
        content=tampered,
        headers={"Stripe-Signature": signature(payload, MANUAL_WEBHOOK_SECRET)},
    )
    assert response.status_code == 400
    # A good signature within tolerance passes; an unknown type is accepted and ignored.
    ok = deliver(manual.api.url, EVENT, MANUAL_WEBHOOK_SECRET, timestamp=now - 200)
    assert ok.status_code == 200 and ok.json()["outcome"] == "ignored"


async def test_same_event_five_times_shuffled_with_others_acts_once(
    manual: Stack, temporal_client: Client
) -> None:
    created = manual.signup("dupes")
    pay(created["checkout_url"])
    events = httpx.get(
        f"{manual.stripe_url}/v1/events",
        params={"limit": 100},
        headers={"Authorization": f"Bearer {STRIPE_KEY}"},
    ).json()["data"]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_type.setdefault(event["type"], []).append(event)
    completed = by_type["checkout.session.completed"][0]
    others = [e for t, es in by_type.items() if t != "checkout.session.completed" for e in es]
    assert others, "paying should have produced more events than the checkout"

    deliveries = [completed] * 5 + others
    random.Random(7).shuffle(deliveries)
    with ThreadPoolExecutor(8) as pool:
        responses = list(
            pool.map(lambda e: deliver(manual.api.url, e, MANUAL_WEBHOOK_SECRET), deliveries)
        )
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    outcomes = [
        r.json()["outcome"] for e, r in zip(deliveries, responses, strict=True) if e is completed
    ]
    assert sorted(outcomes) == ["duplicate"] * 4 + ["routed"]

    status = manual.wait_signup(created)
    assert status["status"] == "active"
    assert len(manual.servers()) == 1
    history = await temporal_client.get_workflow_handle("signup-dupes").fetch_history()
    signals = [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]
    assert len(signals) == 1

    # Redelivered later, after the effect: still 200, still nothing more.
    late = deliver(manual.api.url, completed, MANUAL_WEBHOOK_SECRET)
    assert late.status_code == 200 and late.json()["outcome"] == "duplicate"
