"""A signup with a warm pool, on the real stack (worker process, API, emulators).

The worker starts the pool's workflow, which boots a pool server; a paid signup claims
it (the same server, renamed and labelled as the tenant's), goes through DNS and the
health gate, and the pool refills. A warm signup that fails later gives its server back
to nobody: it is deleted, and no server is left claimed or leaked. A worker killed in
the middle of a claim leaves it to the next worker, which finishes it with the same server.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Replayer

from db.models import PoolClaim, PoolServer
from db.session import make_engine, make_sessionmaker
from devstack.faults import FaultRule
from tenantry.clients.temporal import DATA_CONVERTER
from tenantry.contracts.common import server_pool_workflow_id
from tests.fixtures.api import ADMIN_TOKEN
from tests.fixtures.stack import Stack
from tests.support.checkout import pay
from tests.support.poll import eventually
from worker.registry import workflows

POOL = {"server_pool_sizes": {"starter/fsn1": 1}, "server_pool_check": 1}


def _pool(stack: Stack) -> dict[str, Any]:
    with stack.api.admin() as admin:
        response = admin.get("/v1/admin/pool")
    assert response.status_code == 200, response.text
    (pool,) = response.json()["pools"]
    return dict(pool)


def _wait_ready(stack: Stack, **expected: int) -> dict[str, Any]:
    pool: dict[str, Any] = eventually(
        lambda: _pool(stack),
        until=lambda p: p["ready"] == 1 and all(p[k] == v for k, v in expected.items()),
        timeout=60,
        what=lambda last: f"pool not refilled: {last}\n{stack.worker_logs()}",
        interval=0.2,
    )
    return pool


async def _end_pool(temporal_client: Client) -> None:
    handle = temporal_client.get_workflow_handle(server_pool_workflow_id("starter", "fsn1"))
    with contextlib.suppress(RPCError):
        await handle.terminate("test over")


async def test_a_warm_signup_claims_the_pool_server_and_the_pool_refills(
    stack_factory: Callable[..., Stack], temporal_client: Client
) -> None:
    stack = stack_factory(**POOL)
    try:
        pool = _wait_ready(stack, claims=0, misses=0)
        assert pool["size"] == 1 and pool["monthly_cost_cents"] == pool["server_monthly_cents"]
        (warm,) = stack.servers(**{"tenantry/pool": "true"})

        created = stack.signup("warm")
        pay(created["checkout_url"])
        status = stack.wait_active(created)
        tenant_id = status["tenant_id"]

        (server,) = stack.servers(**{"tenantry/tenant": tenant_id})
        assert (server.id, server.name) == (warm.id, "tenant-warm")
        assert "tenantry/pool" not in server.labels
        with stack.api.admin() as admin:
            tenant = admin.get(f"/v1/admin/tenants/{tenant_id}").json()
        actions = [e["action"] for e in tenant["provisioning_log"]]
        assert "pool.claimed" in actions and "health.ok" in actions
        assert tenant["server_ip"] == warm.public_net.ipv4.ip

        # Refilled after the claim: a new server, not the claimed one.
        _wait_ready(stack, claims=1, misses=0)
        (fresh,) = stack.servers(**{"tenantry/pool": "true"})
        assert fresh.id != warm.id

        # The CLI shows the same.
        out = subprocess.run(
            [str(Path(sys.executable).with_name("tenantry")), "pool", "status",
             "--api-url", stack.api.url, "--token", ADMIN_TOKEN],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout  # fmt: skip
        assert "starter" in out and "fsn1" in out and "total a month" in out

        # Both histories replay against the code as it is now (and can be recorded).
        for workflow_id, name in [
            ("signup-warm", "signup-warm"),
            (server_pool_workflow_id("starter", "fsn1"), "server-pool"),
        ]:
            history = await temporal_client.get_workflow_handle(workflow_id).fetch_history()
            replayer = Replayer(workflows=workflows(), data_converter=DATA_CONVERTER)
            await replayer.replay_workflow(history)
            if os.environ.get("TENANTRY_RECORD_HISTORIES"):
                target = Path(__file__).parents[1] / "replay" / "histories" / f"{name}.json"
                target.write_text(history.to_json())
    finally:
        await _end_pool(temporal_client)


async def test_a_failed_warm_signup_deletes_its_claimed_server(
    stack_factory: Callable[..., Stack], temporal_client: Client
) -> None:
    stack = stack_factory(**POOL, health_gate_budget=3)
    try:
        _wait_ready(stack)
        (warm,) = stack.servers(**{"tenantry/pool": "true"})
        # The release the pool servers run never answers healthy: the gate fails.
        stack.hetzner.admin.post("/_admin/config", {"failing_stack_tags": ["stable"]})
        created = stack.signup("doomed")
        pay(created["checkout_url"])
        status = stack.wait_signup(created)
        assert status["status"] == "failed", status
        # The claimed server is gone, whatever its name; only the refilled pool is left.
        pool = _wait_ready(stack, claims=1)
        names = [s.name for s in stack.servers()]
        assert warm.id not in [s.id for s in stack.servers()]
        assert "tenant-doomed" not in names
        assert len(names) == 1 and pool["ready"] == 1
    finally:
        await _end_pool(temporal_client)


@pytest.mark.parametrize("slowed", ["servers.get", "servers.update"], ids=["claimed", "renaming"])
async def test_a_worker_killed_mid_claim_finishes_it_with_the_same_server(
    stack_factory: Callable[..., Stack], temporal_client: Client, database_url: str, slowed: str
) -> None:
    """SIGKILL once the claim is committed, while the server is looked up or renamed: the
    next worker finishes the same claim; one server is the tenant's, none is leaked."""
    stack = stack_factory(**POOL)
    try:
        _wait_ready(stack)
        (warm,) = stack.servers(**{"tenantry/pool": "true"})
        stack.hetzner.admin.inject(FaultRule(operation=slowed, action="latency", latency_ms=3000))
        created = stack.signup("crash")
        pay(created["checkout_url"])
        sessions = make_sessionmaker(make_engine(database_url))

        def claimed() -> bool:
            with sessions() as session:
                return session.scalar(select(PoolClaim.server_name)) is not None

        eventually(claimed, until=bool, timeout=60, what="no claim", interval=0.05)
        stack.kill_worker()
        stack.hetzner.admin.clear_faults()
        stack.start_worker()
        status = stack.wait_active(created)

        (server,) = stack.servers(**{"tenantry/tenant": status["tenant_id"]})
        assert (server.id, server.name) == (warm.id, "tenant-crash")
        pool = _wait_ready(stack, claims=1, misses=0)
        # The tenant's server and one fresh pool server: nothing else exists.
        assert len(stack.servers()) == 2 and pool["ready"] == 1
        with sessions() as session:
            rows = {r.name: r.status for r in session.scalars(select(PoolServer))}
        assert rows[warm.name] == "claimed" and sorted(rows.values()) == ["claimed", "ready"]
    finally:
        await _end_pool(temporal_client)
