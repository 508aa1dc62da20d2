"""RolloutWorkflow's policy with each tenant's step mocked: canary first, the first bad
tenant halts the rollout (those in flight finish, nothing new starts, the rest is marked
not started), and a good tag reaches every tenant, page by page.

The slow tier's counterpart (tests/rollouts) deploys to real tenant servers over SSH;
the tenant's own deploy-and-rollback is tested in test_tenant_rollback.py.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from tenantry.contracts.rollout import (
    RolloutInput,
    RolloutPrepared,
    RolloutRef,
    RolloutState,
    RolloutStatus,
    RolloutStatusRecord,
    RolloutTargets,
    RolloutTargetsInput,
    RolloutTenantStatus,
    TenantDeployInput,
    TenantDeployResult,
)
from tests.fast.mocks import Calls, mocked, worker
from workflows.rollout import RolloutWorkflow

pytestmark = pytest.mark.fast

TENANTS = ["t-a", "t-b", "t-c", "t-d", "t-e"]
GOOD = RolloutTenantStatus.UPDATED


class Fleet:
    """The tenants' answers to the deploy step, and the order steps began and ended."""

    def __init__(self, outcomes: dict[str, RolloutTenantStatus], slow: dict[str, float]) -> None:
        self.outcomes, self.slow = outcomes, slow
        self.events: list[str] = []

    def targets(self, inp: RolloutTargetsInput) -> RolloutTargets:
        after = [t for t in TENANTS if inp.after_tenant_id is None or t > inp.after_tenant_id]
        return RolloutTargets(tenant_ids=after[: inp.limit])

    async def deploy(self, inp: TenantDeployInput) -> TenantDeployResult:
        self.events.append(f"start {inp.tenant_id}")
        await asyncio.sleep(self.slow.get(inp.tenant_id, 0))
        self.events.append(f"end {inp.tenant_id}")
        status = self.outcomes.get(inp.tenant_id, GOOD)
        return TenantDeployResult(
            tenant_id=inp.tenant_id,
            status=status,
            from_version="1.0",
            to_version=inp.tag if status == GOOD else "1.0",
            reason=None if status == GOOD else f"health gate on {inp.tag} failed",
        )


def rollout_activities(calls: Calls, fleet: Fleet) -> list[Any]:
    return [
        mocked(
            calls, "rollout_prepare", RolloutRef, lambda _: RolloutPrepared(targets=5, skipped=0)
        ),
        mocked(calls, "rollout_targets", RolloutTargetsInput, fleet.targets),
        mocked(calls, "rollout_deploy_tenant", TenantDeployInput, fleet.deploy),
        mocked(calls, "rollout_record_status", RolloutStatusRecord),
        mocked(calls, "rollout_finish_pending", RolloutRef, lambda _: 2),
    ]


async def roll(
    env: WorkflowEnvironment, fleet: Fleet, calls: Calls, **options: Any
) -> RolloutState:
    inp = RolloutInput(rollout_id=str(uuid.uuid4()), tag="2.0", **options)
    async with worker(env.client, [RolloutWorkflow], rollout_activities(calls, fleet)) as run:
        handle = await run.start(RolloutWorkflow.run, inp, id=f"rollout-{inp.rollout_id}")
        state: RolloutState = await asyncio.wait_for(handle.result(), timeout=30)
    return state


def deployed(calls: Calls) -> list[str]:
    return [d.tenant_id for d in calls.of("rollout_deploy_tenant")]


async def test_a_bad_canary_halts_the_rollout_before_the_fleet(
    skipping_env: WorkflowEnvironment,
) -> None:
    calls = Calls()
    fleet = Fleet({"t-a": RolloutTenantStatus.ROLLED_BACK}, slow={})
    state = await roll(skipping_env, fleet, calls, canary=1, parallelism=3)

    assert state.status == RolloutStatus.FAILED and state.phase == "done"
    assert deployed(calls) == ["t-a"]
    assert (state.launched, state.done, state.in_flight) == (1, 1, 0)
    assert state.error is not None and state.error.startswith("tenant t-a rolled_back")
    assert [r.rollout_id for r in calls.of("rollout_finish_pending")] == [state.rollout_id]
    last = calls.of("rollout_record_status")[-1]
    assert (last.status, last.phase, last.error) == (RolloutStatus.FAILED, "done", state.error)


async def test_a_bad_fleet_tenant_halts_new_starts_and_lets_those_in_flight_finish(
    skipping_env: WorkflowEnvironment,
) -> None:
    calls = Calls()
    # t-c is still deploying when t-b fails: it finishes, t-d and t-e never start.
    fleet = Fleet({"t-b": RolloutTenantStatus.ROLLBACK_FAILED}, slow={"t-c": 0.5})
    state = await roll(skipping_env, fleet, calls, canary=1, parallelism=2)

    assert state.status == RolloutStatus.FAILED
    # t-b and t-c deploy at once (parallelism 2): either may be asked first.
    assert deployed(calls)[0] == "t-a" and sorted(deployed(calls)) == ["t-a", "t-b", "t-c"]
    assert fleet.events[-1] == "end t-c"
    assert (state.launched, state.done) == (3, 3)
    assert state.error is not None and "t-b rollback_failed" in state.error
    assert len(calls.of("rollout_finish_pending")) == 1


async def test_a_good_tag_reaches_every_tenant_canary_first(
    skipping_env: WorkflowEnvironment,
) -> None:
    calls = Calls()
    fleet = Fleet({}, slow={"t-a": 0.3})
    state = await roll(skipping_env, fleet, calls, canary=1, parallelism=2, page_size=2)

    assert state.status == RolloutStatus.COMPLETED and state.error is None
    assert sorted(deployed(calls)) == TENANTS and (state.launched, state.done) == (5, 5)
    # The canary passed before anything else started.
    assert fleet.events[:3] == ["start t-a", "end t-a", "start t-b"]
    # Pages of two, each after the last tenant of the one before.
    assert [(p.after_tenant_id, p.limit) for p in calls.of("rollout_targets")] == [
        (None, 2),
        ("t-b", 2),
        ("t-d", 2),
    ]
    assert calls.of("rollout_finish_pending") == []
    assert {d.tag for d in calls.of("rollout_deploy_tenant")} == {"2.0"}
