"""The warm pool's activities on the real parts (PostgreSQL, the Hetzner emulator's
servers over SSH): a pool server boots generic, a claim is atomic and idempotent by
signup id, and a claim stopped at any step leaves no server claimed twice or leaked."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError

from activities.tenant_ssh import run_pinned
from devstack.faults import FaultRule
from tenantry.contracts.pool import PoolPrepareInput, PoolReleaseInput, PoolServerRef
from tests.fixtures.hetzner import HetznerEmulator, wait_for_health
from tests.pool.support import KEY, PoolParts, build_parts


@pytest.fixture
def parts(
    database_url: str, hetzner: HetznerEmulator, control_plane_key: Path
) -> Iterator[PoolParts]:
    yield build_parts(database_url, hetzner, control_plane_key)


def _prepare(signup_id: str, tenant_id: str, subdomain: str) -> PoolPrepareInput:
    return PoolPrepareInput(
        signup_id=signup_id,
        tenant_id=tenant_id,
        subdomain=subdomain,
        name=f"tenant-{subdomain}",
        labels={"tenantry/managed": "true", "tenantry/tenant": tenant_id},
    )


def _ssh(ip: str, host_key: str, key: Path, command: str) -> str:
    result = asyncio.run(run_pinned(ip, host_key, command, client_key=key))
    assert result.exit_status == 0, result.stderr
    return str(result.stdout)


def test_pool_server_boots_generic_and_a_claim_makes_it_the_tenants(
    parts: PoolParts, control_plane_key: Path
) -> None:
    assert parts.create("pool-starter-fsn1-a")
    assert parts.rows() == {"pool-starter-fsn1-a": "ready"}
    (server,) = parts.servers()
    assert server.labels["tenantry/pool"] == "true" and "tenantry/tenant" not in server.labels
    ip = server.public_net.ipv4.ip
    # No tenant's data and no stack running on a pool server.
    wait_for_health(ip, status=503)
    assert parts.create("pool-starter-fsn1-a")  # a repeated create adopts: still one
    assert len(parts.servers()) == 1

    signup, tenant = parts.tenant("acme")
    own_key = parts.tenant_secrets(tenant)["ssh_host_public_key"]
    claim = parts.run(parts.activities.pool_claim_server, parts.claim_input(signup, tenant))
    assert claim.server is not None and claim.server.name == "pool-starter-fsn1-a"
    # The pool server's host key is the tenant's now (later SSH pins it).
    secrets = parts.tenant_secrets(tenant)
    assert secrets["ssh_host_public_key"] == claim.host_public_key != own_key
    with pytest.raises(Exception, match="No such file"):
        _ssh(ip, claim.host_public_key, control_plane_key, "cat /etc/tenantry/stack.env")

    info = parts.run(parts.activities.pool_prepare_server, _prepare(signup, tenant, "acme"))
    assert (info.name, info.ipv4, info.server_id) == ("tenant-acme", ip, server.id)
    renamed = parts.client().servers.get_by_id(server.id)
    assert renamed.name == "tenant-acme" and renamed.labels["tenantry/tenant"] == tenant
    env = _ssh(ip, claim.host_public_key, control_plane_key, "cat /etc/tenantry/stack.env")
    assert f"DB_PASSWORD={secrets['db_password']}" in env
    assert "TENANT_DOMAIN=acme.tenantry.test" in env
    assert _ssh(ip, claim.host_public_key, control_plane_key, "hostname").strip() == "tenant-acme"
    wait_for_health(ip, status=200)
    assert parts.rows() == {"pool-starter-fsn1-a": "claimed"}
    census = parts.run(parts.activities.pool_census, KEY)
    assert (census.ready, census.claims, census.misses) == (0, 1, 0)


def test_claims_are_idempotent_by_signup_and_never_share_a_server(parts: PoolParts) -> None:
    parts.create("pool-starter-fsn1-a")
    first = parts.tenant("first")
    again = parts.run(parts.activities.pool_claim_server, parts.claim_input(*first))
    assert again.server is not None
    for _ in range(2):  # a retried claim (its answer lost) gets the same server
        repeat = parts.run(parts.activities.pool_claim_server, parts.claim_input(*first))
        assert repeat == again
    second = parts.tenant("second")
    miss = parts.run(parts.activities.pool_claim_server, parts.claim_input(*second))
    assert miss.server is None
    # A miss stays a miss when retried, even once a server is ready.
    parts.create("pool-starter-fsn1-b")
    assert parts.run(parts.activities.pool_claim_server, parts.claim_input(*second)) == miss
    census = parts.run(parts.activities.pool_census, KEY)
    assert (census.ready, census.claims, census.misses) == (1, 1, 1)


def test_concurrent_claims_get_distinct_servers(parts: PoolParts) -> None:
    parts.create("pool-starter-fsn1-a")
    parts.create("pool-starter-fsn1-b")
    signups = [parts.tenant(f"t{i}") for i in range(4)]

    def claim(ids: tuple[str, str]) -> str | None:
        result = parts.run(parts.activities.pool_claim_server, parts.claim_input(*ids))
        return result.server.name if result.server else None

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        got = list(pool.map(claim, signups))
    assert sorted(n for n in got if n) == ["pool-starter-fsn1-a", "pool-starter-fsn1-b"]
    assert got.count(None) == 2


def test_a_claim_stopped_after_each_step_is_finished_or_released_without_leaks(
    parts: PoolParts, hetzner: HetznerEmulator
) -> None:
    for name in ("pool-starter-fsn1-a", "pool-starter-fsn1-b", "pool-starter-fsn1-c"):
        parts.create(name)

    # 1. Stopped after the claim's commit: the retry gets the same server; a failed
    #    signup's release deletes it, whatever its name.
    s1 = parts.tenant("one")
    claimed = parts.run(parts.activities.pool_claim_server, parts.claim_input(*s1))
    assert parts.run(parts.activities.pool_claim_server, parts.claim_input(*s1)) == claimed
    assert parts.run(parts.activities.pool_release_if_present, PoolReleaseInput(signup_id=s1[0]))
    assert claimed.server is not None
    assert claimed.server.name not in [s.name for s in parts.servers()]
    assert not parts.run(
        parts.activities.pool_release_if_present, PoolReleaseInput(signup_id=s1[0])
    )

    # 2. Rename refused by Hetzner: the prepare fails; its retry converges on one server.
    s2 = parts.tenant("two")
    claimed = parts.run(parts.activities.pool_claim_server, parts.claim_input(*s2))
    hetzner.admin.inject(FaultRule(operation="servers.update", status=422, code="invalid_input"))
    with pytest.raises(ApplicationError):
        parts.run(parts.activities.pool_prepare_server, _prepare(*s2, "two"))
    hetzner.admin.clear_faults()
    # 3. The rename landed but its answer was lost: the retry finds it done.
    hetzner.admin.inject(FaultRule(operation="servers.update", action="drop", times=1))
    with pytest.raises(Exception):  # noqa: B017 - hcloud's own connection error
        parts.run(parts.activities.pool_prepare_server, _prepare(*s2, "two"))
    info = parts.run(parts.activities.pool_prepare_server, _prepare(*s2, "two"))
    assert claimed.server is not None and info.server_id == claimed.server.server_id
    # 4. Stopped after the personalisation: running it again changes nothing.
    assert parts.run(parts.activities.pool_prepare_server, _prepare(*s2, "two")) == info
    wait_for_health(info.ipv4, status=200)

    # 5. A claim whose signup then fails in a later step (DNS, health): released, and
    #    the server it held under its tenant name is gone too.
    assert parts.run(parts.activities.pool_release_if_present, PoolReleaseInput(signup_id=s2[0]))
    assert "tenant-two" not in [s.name for s in parts.servers()]

    # The pool's own undo and shrinking never touch a claimed server.
    s3 = parts.tenant("three")
    kept = parts.run(parts.activities.pool_claim_server, parts.claim_input(*s3))
    assert kept.server is not None
    assert not parts.run(
        parts.activities.pool_delete_server_if_present, PoolServerRef(name=kept.server.name)
    )
    assert parts.run(parts.activities.pool_retire_server, KEY) is None  # none ready is left
    assert parts.rows() == {kept.server.name: "claimed"}
    assert [s.name for s in parts.servers()] == [kept.server.name]
    census = parts.run(parts.activities.pool_census, KEY)
    assert (census.ready, census.claims) == (0, 3)


def test_a_pool_create_stopped_midway_is_adopted_or_undone(
    parts: PoolParts, hetzner: HetznerEmulator
) -> None:
    # The create landed, its answer was lost: the activity fails, the row says creating.
    hetzner.admin.inject(FaultRule(operation="servers.create", action="drop", times=1))
    with pytest.raises(Exception):  # noqa: B017 - hcloud's own connection error
        parts.create("pool-starter-fsn1-x")
    assert parts.rows() == {"pool-starter-fsn1-x": "creating"}
    assert [s.name for s in parts.servers()] == ["pool-starter-fsn1-x"]
    # Its retry adopts the server by name: one server, ready.
    assert parts.create("pool-starter-fsn1-x")
    assert parts.rows() == {"pool-starter-fsn1-x": "ready"}

    # Another create failed for good: the pool's undo removes server and row.
    hetzner.admin.inject(FaultRule(operation="servers.create", action="drop", times=1))
    with pytest.raises(Exception):  # noqa: B017
        parts.create("pool-starter-fsn1-y")
    assert parts.run(
        parts.activities.pool_delete_server_if_present, PoolServerRef(name="pool-starter-fsn1-y")
    )
    assert parts.rows() == {"pool-starter-fsn1-x": "ready"}
    assert [s.name for s in parts.servers()] == ["pool-starter-fsn1-x"]

    # Shrinking retires the ready one.
    assert parts.run(parts.activities.pool_retire_server, KEY) == "pool-starter-fsn1-x"
    assert parts.rows() == {} and parts.servers() == []
