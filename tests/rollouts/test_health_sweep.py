"""The health sweep: every tenant's health recorded, suspended and crashed ones marked
unhealthy (only the crashed one unexpectedly), the schedule kept by the worker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from temporalio.client import Client, ScheduleActionStartWorkflow

from tenantry.contracts.common import HEALTH_SWEEP_SCHEDULE_ID
from tests.fixtures.stack import Stack
from tests.support.rollouts import FIRST_TAG, activate_all, admin, set_failing_tags, tenant


async def test_sweep_marks_suspended_and_crashed_tenants_unhealthy(
    stack_factory: Callable[..., Stack], temporal_client: Client
) -> None:
    stack = stack_factory(health_sweep_interval=3600)
    up, asleep = await asyncio.to_thread(activate_all, stack, "sweep-up", "sweep-asleep")
    response = admin(stack, "POST", f"/v1/admin/tenants/{asleep['tenant_id']}/suspend")
    assert response.status_code == 200, response.text

    swept = admin(stack, "POST", "/v1/admin/health/sweep")
    assert swept.status_code == 200, swept.text
    assert swept.json() | {"stale_hosts": []} == {
        "checked": 2,
        "healthy": 1,
        "unhealthy_count": 1,
        "unhealthy": ["sweep-asleep"],
        "stale_hosts": [],
    }
    found = {h["subdomain"]: h for h in admin(stack, "GET", "/v1/admin/health").json()["data"]}
    assert found["sweep-asleep"]["healthy"] is False and found["sweep-asleep"]["expected"] is False
    assert found["sweep-asleep"]["status_code"] == 503
    assert found["sweep-up"]["healthy"] is True and found["sweep-up"]["version"] == FIRST_TAG
    assert tenant(stack, up["tenant_id"])["health"]["healthy"] is True
    assert tenant(stack, up["tenant_id"])["version"] == FIRST_TAG

    # The running stack crashes (its release stops answering): unexpectedly unhealthy,
    # logged by the worker; nobody is mailed.
    set_failing_tags(stack, FIRST_TAG)
    mails_before = len(stack.mailbox.messages())
    assert admin(stack, "POST", "/v1/admin/health/sweep").json()["unhealthy_count"] == 2
    crashed = tenant(stack, up["tenant_id"])["health"]
    assert crashed["healthy"] is False and crashed["expected"] is True
    assert crashed["detail"] == "HTTP 503 failing"
    only = admin(stack, "GET", "/v1/admin/health", params={"unhealthy": "true"}).json()["data"]
    assert {h["subdomain"] for h in only} == {"sweep-up", "sweep-asleep"}
    assert f"tenant {up['tenant_id']} (sweep-up) is unhealthy" in stack.worker_logs()
    assert len(stack.mailbox.messages()) == mails_before

    # The worker keeps the schedule in step with its settings (interval, task queue).
    schedule = await temporal_client.get_schedule_handle(HEALTH_SWEEP_SCHEDULE_ID).describe()
    action = schedule.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert action.task_queue == stack.settings.task_queue
    assert [i.every for i in schedule.schedule.spec.intervals] == [timedelta(hours=1)]
