"""Temporal Schedules the worker keeps in place: created once, left alone when they exist.

`metering-hourly` meters each closed UTC hour. Overlap is SKIP (a run still busy is not
joined by another) and the catch-up window is 7 days; hours a skipped or missed run did
not meter are metered by the next run, which catches up on every unmetered hour.

`health-sweep` checks every tenant's health every `HEALTH_SWEEP_INTERVAL`. Overlap is
SKIP and a missed sweep is not caught up (the next one is as good). Unlike metering's,
it is kept in step with the settings: a worker that finds it with another interval or
task queue updates it.
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
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from tenantry.contracts.common import HEALTH_SWEEP_SCHEDULE_ID, METERING_SCHEDULE_ID
from tenantry.contracts.metering import MeteringInput
from tenantry.contracts.rollout import HealthSweepInput
from workflows.health_sweep import HealthSweepWorkflow
from workflows.metering import MeteringWorkflow

METERING_OFFSET = timedelta(minutes=5)  # late events of the hour have arrived by then


async def ensure_schedules(
    client: Client, task_queue: str, *, health_sweep_every: timedelta = timedelta(minutes=5)
) -> None:
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
    await ensure_health_sweep(client, task_queue, health_sweep_every)


def health_sweep_schedule(task_queue: str, every: timedelta) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            HealthSweepWorkflow.run,
            HealthSweepInput(),
            id=f"{HEALTH_SWEEP_SCHEDULE_ID}-run",
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(
            overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(minutes=1)
        ),
    )


async def ensure_health_sweep(client: Client, task_queue: str, every: timedelta) -> None:
    wanted = health_sweep_schedule(task_queue, every)
    try:
        await client.create_schedule(HEALTH_SWEEP_SCHEDULE_ID, wanted)
        return
    except ScheduleAlreadyRunningError:
        pass

    def update(current: ScheduleUpdateInput) -> ScheduleUpdate | None:
        schedule = current.description.schedule
        action = schedule.action
        same = (
            isinstance(action, ScheduleActionStartWorkflow)
            and action.task_queue == task_queue
            and [i.every for i in schedule.spec.intervals] == [every]
        )
        return None if same else ScheduleUpdate(schedule=wanted)

    await client.get_schedule_handle(HEALTH_SWEEP_SCHEDULE_ID).update(update)
