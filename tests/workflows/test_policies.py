"""The step helper refuses what Temporal cannot do, before it schedules anything."""

from __future__ import annotations

import pytest

from activities.tenant_records import RecordActivities
from tenantry.contracts.signup import AuditEvent
from workflows.policies import FOREVER, HEARTBEAT, QUICK, step


async def test_a_local_step_cannot_heartbeat() -> None:
    event = AuditEvent(actor="test", action="x", target="y", details={})
    with pytest.raises(ValueError, match="cannot heartbeat"):
        await step(
            RecordActivities.audit,
            event,
            local=True,
            limit=QUICK,
            retry=FOREVER,
            heartbeat=HEARTBEAT,
        )
