"""``--state-file``: a restarted emulator keeps its objects, keys and clock."""

from __future__ import annotations

import sys
from pathlib import Path

import stripe

from devstack.procs import ManagedProcess, free_port, http_ready
from tests.devstack.test_stripe_checkout import make_price, make_session, pay_on_page
from tests.fixtures.stripe import API_KEY


def start(state: Path, port: int, log: Path) -> ManagedProcess:
    url = f"http://127.0.0.1:{port}"
    argv = [
        sys.executable,
        "-m",
        "devstack.stripe",
        "--port",
        str(port),
        "--state-file",
        str(state),
    ]
    return ManagedProcess("stripe-persist", argv, log, ready=http_ready(url + "/_admin/faults"))


def test_restart_keeps_objects(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    client = stripe.StripeClient(API_KEY, base_addresses={"api": url})
    state = tmp_path / "stripe.json"
    process = start(state, port, tmp_path / "log").start()
    try:
        session = make_session(client, make_price(client))
        assert session.url and pay_on_page(session.url, "4242424242424242").status_code == 303
        customer = client.v1.customers.create(
            params={"email": "kept@example.com"}, options={"idempotency_key": "persist-1"}
        )
    finally:
        process.stop()
    assert state.exists()
    process = start(state, port, tmp_path / "log").start()
    try:
        again = client.v1.checkout.sessions.retrieve(session.id)
        assert again.status == "complete"
        sub = client.v1.subscriptions.retrieve(str(again.subscription))
        assert sub.status == "active"
        replay = client.v1.customers.create(
            params={"email": "kept@example.com"}, options={"idempotency_key": "persist-1"}
        )
        assert replay.id == customer.id
        assert replay.last_response.headers.get("Idempotent-Replayed") == "true"
    finally:
        process.stop()
