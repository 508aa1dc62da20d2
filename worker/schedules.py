"""Temporal Schedules the worker keeps in place: created once, left alone when they exist.

`metering-hourly` meters each closed UTC hour. Overlap is SKIP (a run still busy is not
joined by another) and the catch-up window is 7 days; hours a skipped or missed run did
not meter are metered by the next run, which catches up on every unmetered hour.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)

from tenantry.contracts import METERING_SCHEDULE_ID, MeteringInput
from workflows.metering import MeteringWorkflow

METERING_OFFSET = timedelta(minutes=5)  # late events of the hour have arrived by then


async def ensure_schedules(client: Client, task_queue: str) -> None:
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            MeteringWorkflow.run,
            MeteringInput(),
            id=f"{METERING_SCHEDULE_ID}-run",
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=timedelta(hours=1), offset=METERING_OFFSET)]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(days=7)),
    )
    with contextlib.suppress(ScheduleAlreadyRunningError):  # it exists: leave it be
        await client.create_schedule(METERING_SCHEDULE_ID, schedule)
