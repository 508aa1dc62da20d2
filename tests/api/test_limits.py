"""The API keeps its word on its limits: anchored validation, body sizes answered 413
before the body is read, no docs or open metrics in production, and rate limits that
count the client behind a trusted proxy (and ignore anyone else's X-Forwarded-For).
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from api.client_address import client_address
from tenantry.rules.pod_config import MAX_ENV_ENTRIES, MAX_ENV_VALUE_LENGTH
from tenantry.settings import ApiSettings
from tests.api.test_auth_and_health import assert_error
from tests.fixtures.api import RunningApi, api_settings

GOOD_SIGNUP = {"email": "owner@example.com", "subdomain": "good-name", "tier": "starter"}
MIB = 1024 * 1024

# A production process's secrets: real-looking, so the settings accept them.
PRODUCTION = {
    "env": "production",
    "allow_nonproduction_endpoints": True,
    "hetzner_token": "hz-0123456789abcdef",
    "stripe_api_key": "sk_live_0123456789abcdef",
    "stripe_webhook_secret": "whsec_0123456789abcdef",
    "admin_token": "admin-0123456789abcdef",
    "edge_token": "edge-0123456789abcdef",
    "status_token_key": "status-0123456789abcdef0123456789abcdef",
    "encryption_key": "DIL4a9x1cm7vZ6bqk0AgGxJrZ2VfQ3sYw8Tn1Ue5Hoo=",
}


def new_account_key(api: RunningApi, email: str = "dev@example.com") -> str:
    with api.admin() as admin:
        created = admin.post("/v1/admin/accounts", json={"email": email})
    assert created.status_code == 201, created.text
    return str(created.json()["api_key"])


# -- validation ---------------------------------------------------------------------------
def test_a_trailing_newline_does_not_pass_a_pattern(api: RunningApi) -> None:
    with api.client() as http:
        for subdomain in ("admin\n", "good-name\n"):
            response = http.post("/v1/signups", json={**GOOD_SIGNUP, "subdomain": subdomain})
            error = assert_error(response, 422, "invalid_input")
            assert error["details"]["fields"][0]["field"] == "subdomain"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "dev\n"}, "name"),
        ({"config": {"name": "dev\n"}}, "config.name"),
        ({"name": "dev", "config": {"image": "busybox\n"}}, "config.image"),
        ({"name": "dev", "config": {"services": [{"name": "web\n", "port": 80}]}}, None),
        (
            {"name": "dev", "config": {"env": {f"K{i}": "v" for i in range(MAX_ENV_ENTRIES + 1)}}},
            "config.env",
        ),
        ({"name": "dev", "config": {"env": {"K" * 200: "v"}}}, "config.env"),
        ({"name": "dev", "config": {"env": {"K": "v" * (MAX_ENV_VALUE_LENGTH + 1)}}}, None),
        ({"name": "dev", "config": {"secrets": {"S": "v" * (MAX_ENV_VALUE_LENGTH + 1)}}}, None),
        (
            {
                "name": "dev",
                "config": "env:\n" + "".join(f"  K{i}: {'v' * 90}\n" for i in range(800)),
            },
            "config",
        ),
    ],
    ids=[
        "name-newline",
        "config-name-newline",
        "image-newline",
        "service-newline",
        "env-count",
        "env-key-length",
        "env-value-length",
        "secret-value-length",
        "config-size",
    ],
)
def test_pod_inputs_are_bounded_and_anchored(
    api: RunningApi, body: dict[str, Any], field: str | None
) -> None:
    with api.client(new_account_key(api)) as http:
        error = assert_error(http.post("/v1/pods", json=body), 422, "invalid_input")
        fields = [f["field"] for f in error["details"]["fields"]]
        if field is not None:
            assert fields[0] == field, error
        else:
            assert fields[0].startswith("config."), error
        assert http.get("/v1/pods").json()["data"] == []


# -- body size ----------------------------------------------------------------------------
def _raw_request(api: RunningApi, head: str, parts: Callable[[socket.socket], None]) -> bytes:
    """Sends `head`, then whatever `parts` sends; returns what the server answered."""
    host, port = api.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode())
        # The server may answer and close before the body is all sent: that is the point.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            parts(sock)
        answer = b""
        with contextlib.suppress(ConnectionResetError, TimeoutError):
            while chunk := sock.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer and answer.endswith(b"}"):
                    break
    return answer


def _status_and_body(answer: bytes) -> tuple[int, bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def test_a_declared_oversize_webhook_gets_413_before_its_body_is_sent(api: RunningApi) -> None:
    head = (
        "POST /v1/stripe/webhook HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
        f"Stripe-Signature: t=1,v1=00\r\nContent-Length: {2 * MIB}\r\n\r\n"
    )
    started = time.monotonic()
    # Only 10 KiB of the declared 2 MiB: a server that read the body first would wait
    # for the rest until the socket timed out.
    answer = _raw_request(api, head, lambda sock: sock.sendall(b"x" * 10240))
    status, body = _status_and_body(answer)
    assert status == 413, answer[:300]
    assert b'"payload_too_large"' in body
    assert time.monotonic() - started < 5


def test_a_chunked_oversize_webhook_is_cut_off_at_the_limit(api: RunningApi) -> None:
    head = (
        "POST /v1/stripe/webhook HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
        "Stripe-Signature: t=1,v1=00\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    sent = 0

    def chunks(sock: socket.socket) -> None:
        nonlocal sent
        piece = b"y" * 65536
        while sent < 2 * MIB:  # never a last chunk: only the limit can end this request
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            sent += len(piece)
            time.sleep(0.005)

    status, body = _status_and_body(_raw_request(api, head, chunks))
    assert status == 413
    assert b'"payload_too_large"' in body


def test_the_webhook_limit_is_larger_than_the_default(api: RunningApi) -> None:
    big = b"{" + b" " * (512 * 1024) + b"}"  # over 256 KiB, under 1 MiB
    with api.client() as http:
        signup = http.post("/v1/signups", content=big, headers={"Content-Type": "application/json"})
        assert_error(signup, 413, "payload_too_large")
        # The webhook reads it and refuses the signature instead (400, not 413).
        webhook = http.post(
            "/v1/stripe/webhook",
            content=big,
            headers={"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=00"},
        )
        assert_error(webhook, 400, "invalid_signature")


# -- production surface --------------------------------------------------------------------
def test_production_serves_no_docs_and_no_open_metrics(
    make_api: Callable[[ApiSettings], RunningApi], database_url: str, temporal_address: str
) -> None:
    api = make_api(
        api_settings(database_url=database_url, temporal_address=temporal_address, **PRODUCTION)
    )
    with api.client() as http:
        for path in ("/docs", "/redoc", "/openapi.json", "/metrics"):
            assert_error(http.get(path), 404, "not_found")
        assert http.get("/healthz").status_code == 200

    metered = make_api(
        api_settings(
            database_url=database_url,
            temporal_address=temporal_address,
            metrics_token="metrics-0123456789",
            **PRODUCTION,
        )
    )
    with metered.client() as http:
        assert_error(http.get("/metrics"), 401, "unauthorized")
    with metered.client("wrong-token") as http:
        assert_error(http.get("/metrics"), 401, "unauthorized")
    with metered.client("metrics-0123456789") as http:
        metrics = http.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")


def test_dev_serves_its_docs(api: RunningApi) -> None:
    with api.client() as http:
        assert http.get("/openapi.json").status_code == 200
        assert http.get("/docs").status_code == 200


# -- rate limits behind proxies ------------------------------------------------------------
def _scope_request(peer: str, forwarded: list[str]) -> Request:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return Request({"type": "http", "client": (peer, 1234), "headers": headers})


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("198.51.100.1", ["203.0.113.9"], "198.51.100.1"),  # untrusted peer: XFF ignored
        ("10.0.0.5", ["203.0.113.9"], "203.0.113.9"),
        ("10.0.0.5", ["1.1.1.1, 203.0.113.9, 10.0.0.7"], "203.0.113.9"),  # spoofed left part
        ("10.0.0.5", ["1.1.1.1", "203.0.113.9"], "203.0.113.9"),  # two headers, in order
        ("10.0.0.5", [], "10.0.0.5"),
        ("10.0.0.5", ["10.0.0.8, 10.0.0.7"], "10.0.0.8"),  # all ours: the farthest
    ],
)
def test_the_client_is_the_rightmost_untrusted_hop(
    peer: str, forwarded: list[str], expected: str
) -> None:
    proxies = api_settings(trusted_proxies="10.0.0.0/8").trusted_proxies
    assert client_address(_scope_request(peer, forwarded), proxies) == expected


def _signup_limited(
    make_api: Callable[[ApiSettings], RunningApi],
    database_url: str,
    temporal_address: str,
    task_queue: str,
    trusted: str,
) -> RunningApi:
    return make_api(
        api_settings(
            database_url=database_url,
            temporal_address=temporal_address,
            task_queue=task_queue,
            trusted_proxies=trusted,
            signup_rate_limit_per_minute=2,
            # No worker runs: a signup that passes the limiter answers 503 at once.
            signup_checkout_wait=timedelta(milliseconds=50),
        )
    )


def _signup_from(http: httpx.Client, forwarded_for: str, n: int) -> int:
    body = {**GOOD_SIGNUP, "subdomain": f"proxied-{forwarded_for.replace('.', '-')}-{n}"}
    response = http.post("/v1/signups", json=body, headers={"X-Forwarded-For": forwarded_for})
    assert response.status_code in (202, 429, 503), response.text
    return response.status_code


def test_clients_behind_a_trusted_proxy_have_their_own_buckets(
    make_api: Callable[[ApiSettings], RunningApi],
    database_url: str,
    temporal_address: str,
    task_queue: str,
) -> None:
    api = _signup_limited(make_api, database_url, temporal_address, task_queue, "127.0.0.1")
    with api.client() as http:
        assert [_signup_from(http, "203.0.113.5", n) for n in range(3)][2] == 429
        assert _signup_from(http, "203.0.113.5", 3) == 429
        # Another client through the same proxy is counted on its own.
        assert _signup_from(http, "203.0.113.6", 0) != 429


def test_an_untrusted_peer_cannot_pick_its_bucket(
    make_api: Callable[[ApiSettings], RunningApi],
    database_url: str,
    temporal_address: str,
    task_queue: str,
) -> None:
    api = _signup_limited(make_api, database_url, temporal_address, task_queue, "10.0.0.0/8")
    with api.client() as http:
        codes = [_signup_from(http, f"203.0.113.{n}", n) for n in range(3)]
    assert codes[:2] != [429, 429] and codes[2] == 429, codes


def test_a_wrong_method_names_every_method_of_the_path(api: RunningApi) -> None:
    with api.admin() as http:
        response = http.request("PUT", "/v1/admin/rollouts")
        assert_error(response, 405, "method_not_allowed")
        assert response.headers["Allow"] == "GET, POST"


def test_a_metering_hour_is_text_not_a_timestamp(api: RunningApi) -> None:
    with api.admin() as http:
        response = http.post("/v1/admin/metering/run", json={"hour": 0})
    error = assert_error(response, 422, "invalid_input")
    assert error["details"]["fields"][0]["field"] == "hour"
