"""TenantWorkflow's `deploy_version` (a rollout's step on one tenant): deploy the tag,
gate on it, and when the gate fails go back to the previous tag, gated too; the answer
is given once per rollout.

It is an update, which Temporal's test server does not support: these run on the dev
server, where nothing waits on a timer. The server is a mock that knows its version and
which tags never come up healthy.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from tenantry.contracts.rollout import RolloutTenantStatus, VersionDeploy
from tenantry.contracts.signup import (
    AuditEvent,
    EmailMessage,
    HealthGateInput,
    ProvisioningEvent,
    TenantChange,
    TenantRecord,
)
from tenantry.contracts.tenant import StackCommand, TenantInput
from tests.fast.mocks import Calls, mocked, worker
from workflows.tenant import TenantWorkflow

pytestmark = pytest.mark.fast


class Server:
    """A tenant server: `tenantry-stack running`, `version`, `pull <tag>` and
    `deploy <tag>`, and its health."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.broken: set[str] = set()

    def stack(self, cmd: StackCommand) -> str:
        if cmd.command == "deploy":
            (self.version,) = cmd.args
        return f"{self.version}\n" if cmd.command in ("running", "version") else ""

    def health(self, gate: HealthGateInput) -> str:
        if gate.expect_version in self.broken:
            # What the real gate raises when the budget runs out (no retry helps).
            raise ApplicationError(
                f"{gate.url} never reported {gate.expect_version}",
                type="HealthGateTimeout",
                non_retryable=True,
            )
        return "healthy"


def tenant_activities(calls: Calls, server: Server) -> list[Any]:
    return [
        mocked(calls, "log_provisioning", ProvisioningEvent),
        mocked(calls, "update_tenant", TenantRecord),
        mocked(calls, "record_tenant_change", TenantChange),
        mocked(calls, "audit", AuditEvent),
        mocked(calls, "send_email", EmailMessage, lambda _: True),
        mocked(calls, "run_stack_command", StackCommand, server.stack),
        mocked(calls, "wait_healthy", HealthGateInput, server.health),
    ]


def stack_commands(calls: Calls) -> list[str]:
    return [" ".join([c.command, *c.args]) for c in calls.of("run_stack_command")]


def recorded_versions(calls: Calls) -> list[str | None]:
    """The versions written to the tenant's row, whichever record activity wrote them."""
    return [c.tenant.version for c in calls.of("record_tenant_change")] + [
        r.version for r in calls.of("update_tenant")
    ]


def deploy(tag: str) -> VersionDeploy:
    return VersionDeploy(rollout_id=str(uuid.uuid4()), tag=tag, health_budget_seconds=5)


async def test_a_tag_that_fails_its_gate_is_rolled_back_once_per_rollout(
    temporal_env: WorkflowEnvironment,
) -> None:
    calls, server = Calls(), Server("1.0")
    server.broken = {"2.0-bad"}
    inp = TenantInput(
        tenant_id=str(uuid.uuid4()),
        subdomain="canary",
        tier="starter",
        server_ip="203.0.113.20",
        fqdn="canary.tenants.example",
        version="1.0",
    )
    async with worker(
        temporal_env.client, [TenantWorkflow], tenant_activities(calls, server)
    ) as run:
        handle = await run.start(TenantWorkflow.run, inp, id=f"tenant-{inp.tenant_id}")
        bad = deploy("2.0-bad")
        result = await handle.execute_update(TenantWorkflow.deploy_version, bad)
        commands_after_first = stack_commands(calls)
        again = await handle.execute_update(TenantWorkflow.deploy_version, bad)
        state = await handle.query(TenantWorkflow.state)

    assert result.status == RolloutTenantStatus.ROLLED_BACK
    assert (result.tenant_id, result.from_version, result.to_version) == (
        inp.tenant_id,
        "1.0",
        "1.0",
    )
    assert result.reason is not None and "health gate on 2.0-bad failed" in result.reason
    # What runs is read first, the tag pulled before anything changes, then deployed.
    assert commands_after_first == ["running", "pull 2.0-bad", "deploy 2.0-bad", "deploy 1.0"]
    assert [g.expect_version for g in calls.of("wait_healthy")] == ["2.0-bad", "1.0"]
    assert all(g.host_header == "canary.tenants.example" for g in calls.of("wait_healthy"))
    assert server.version == "1.0" and recorded_versions(calls)[-1] == "1.0"
    # The repeated request (a retried rollout step) gets the first answer, deploys nothing.
    assert again == result and stack_commands(calls) == commands_after_first
    assert state.status == "active" and state.busy_with is None
    (audit,) = calls.of("audit")
    assert audit.action == "tenant.rollout.rolled_back" and audit.actor == "rollout"
    assert audit.details == {"rollout_id": bad.rollout_id, "old": "1.0", "new": "1.0"}


async def test_a_good_tag_is_kept_and_a_failed_rollback_is_reported(
    temporal_env: WorkflowEnvironment,
) -> None:
    calls, server = Calls(), Server("1.0")
    inp = TenantInput(
        tenant_id=str(uuid.uuid4()),
        subdomain="fleet",
        tier="starter",
        server_ip="203.0.113.21",
        fqdn="fleet.tenants.example",
        version="1.0",
    )
    async with worker(
        temporal_env.client, [TenantWorkflow], tenant_activities(calls, server)
    ) as run:
        handle = await run.start(TenantWorkflow.run, inp, id=f"tenant-{inp.tenant_id}")
        updated = await handle.execute_update(TenantWorkflow.deploy_version, deploy("2.0"))
        assert (updated.status, updated.from_version, updated.to_version) == (
            RolloutTenantStatus.UPDATED,
            "1.0",
            "2.0",
        )
        assert recorded_versions(calls)[-1] == "2.0"

        already = await handle.execute_update(TenantWorkflow.deploy_version, deploy("2.0"))
        assert already.status == RolloutTenantStatus.ALREADY
        assert stack_commands(calls) == ["running", "pull 2.0", "deploy 2.0", "running"]

        # Neither the new tag nor the one it had come up: nothing is left to roll back to.
        server.broken = {"3.0-bad", "2.0"}
        failed = await handle.execute_update(TenantWorkflow.deploy_version, deploy("3.0-bad"))

    assert failed.status == RolloutTenantStatus.ROLLBACK_FAILED
    assert (failed.from_version, failed.to_version) == ("2.0", None)
    assert failed.reason is not None and "rollback to 2.0 failed" in failed.reason
    assert stack_commands(calls)[4:] == ["running", "pull 3.0-bad", "deploy 3.0-bad", "deploy 2.0"]
    assert [a.action for a in calls.of("audit")] == [
        "tenant.rollout.updated",
        "tenant.rollout.already",
        "tenant.rollout.rollback_failed",
    ]
