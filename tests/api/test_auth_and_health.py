"""Foundation: authentication answers 401 with the CONTRACT body; health, readiness, metrics."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fixtures.api import ADMIN_TOKEN, RunningApi, api_settings, run_api


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return dict(body["error"])


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic YWRtaW46eA=="}],
    ids=["missing", "wrong", "not-bearer"],
)
def test_admin_routes_refuse_missing_or_wrong_token(
    api: RunningApi, headers: dict[str, str]
) -> None:
    with httpx.Client(base_url=api.url) as http:
        response = http.get("/v1/admin/tenants", headers=headers)
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_admin_token_is_accepted(api: RunningApi) -> None:
    with api.admin() as http:
        assert http.get("/v1/admin/tenants").json()["data"] == []


def test_api_keys_authenticate_accounts_and_wrong_keys_get_401(api: RunningApi) -> None:
    with api.admin() as admin:
        created = admin.post("/v1/admin/accounts", json={"email": "Dev@Example.com"})
    assert created.status_code == 201, created.text
    key = created.json()["api_key"]
    assert key.startswith("tnt_")

    with api.client(key) as http:
        team = http.get("/v1/team").json()
    assert team["members"] == [
        {"account_id": created.json()["account_id"], "email": "dev@example.com", "role": "owner"}
    ]

    tampered = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    for bad in (tampered, "tnt_nothing_here", ADMIN_TOKEN, ""):
        with api.client(bad or None) as http:
            assert_error(http.get("/v1/team"), 401, "unauthorized")


def test_duplicate_account_is_a_conflict(api: RunningApi) -> None:
    with api.admin() as admin:
        assert admin.post("/v1/admin/accounts", json={"email": "a@example.com"}).status_code == 201
        assert_error(
            admin.post("/v1/admin/accounts", json={"email": "A@example.com"}), 409, "conflict"
        )
        error = assert_error(
            admin.post("/v1/admin/accounts", json={"email": "nope"}), 422, "invalid_input"
        )
    assert error["details"]["fields"][0]["field"] == "email"


def test_health_readiness_and_metrics(api: RunningApi) -> None:
    with api.client() as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        ready = http.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "temporal": "ok"}
        metrics = http.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'tenantry_http_requests_total{method="GET",route="/readyz",status="200"}' in metrics.text


def test_readyz_reports_an_unreachable_database(temporal_address: str) -> None:
    settings = api_settings(
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none",
        temporal_address=temporal_address,
    )
    with run_api(settings) as api, api.client() as http:
        response = http.get("/readyz")
    error = assert_error(response, 503, "unavailable")
    assert error["details"]["checks"]["database"].startswith("unavailable")
    assert error["details"]["checks"]["temporal"] == "ok"


def test_unknown_route_gets_the_error_body(api: RunningApi) -> None:
    with api.client() as http:
        assert_error(http.get("/v1/nothing-here"), 404, "not_found")
