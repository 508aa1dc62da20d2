"""`GET /v1/admin/pool`: admins only; a configured pool shows with its counts and cost."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest

from db.models import PoolClaim, PoolServer
from db.session import make_engine, make_sessionmaker
from tenantry.settings import ApiSettings
from tests.api.test_auth_and_health import assert_error
from tests.fixtures.api import RunningApi, api_settings


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}],
    ids=["missing", "wrong"],
)
def test_pool_status_refuses_missing_or_wrong_token(
    api: RunningApi, headers: dict[str, str]
) -> None:
    with httpx.Client(base_url=api.url) as http:
        assert_error(http.get("/v1/admin/pool", headers=headers), 401, "unauthorized")


def test_pool_status_counts_servers_claims_misses_and_cost(
    make_api: Callable[[ApiSettings], RunningApi],
    database_url: str,
    temporal_address: str,
    task_queue: str,
) -> None:
    sessions = make_sessionmaker(make_engine(database_url))
    with sessions() as session:
        for name, status in [("p-a", "ready"), ("p-b", "ready"), ("p-c", "creating"),
                             ("p-d", "claimed")]:  # fmt: skip
            session.add(PoolServer(name=name, tier="starter", location="fsn1", status=status))
        session.add(PoolClaim(signup_id=uuid.uuid4(), tier="starter", location="fsn1",
                              server_name="p-d"))  # fmt: skip
        session.add(PoolClaim(signup_id=uuid.uuid4(), tier="starter", location="fsn1"))
        session.commit()
    api = make_api(
        api_settings(
            database_url=database_url,
            temporal_address=temporal_address,
            task_queue=task_queue,
            server_pool_sizes={"starter/fsn1": 2, "pro/nbg1": 1},
        )
    )
    with api.admin() as http:
        response = http.get("/v1/admin/pool")
    assert response.status_code == 200, response.text
    body = response.json()
    pro, starter = body["pools"]
    assert (pro["tier"], pro["size"], pro["ready"], pro["monthly_cost_cents"]) == (
        "pro", 1, 0, 0
    )  # fmt: skip
    assert (starter["size"], starter["ready"], starter["creating"]) == (2, 2, 1)
    assert (starter["claims"], starter["misses"]) == (1, 1)
    # Ready and creating servers cost money; a claimed one is the tenant's.
    assert starter["monthly_cost_cents"] == 3 * starter["server_monthly_cents"] > 0
    assert body["monthly_cost_cents"] == starter["monthly_cost_cents"]
