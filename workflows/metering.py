"""MeteringWorkflow: bill closed UTC hours exactly once.

Started by the `metering-hourly` schedule (no hour: the hour before the fire time), by
`POST /v1/admin/metering/run` and by `tenantry usage run --hour` (`metering-{hour}`).
Each run meters its hour and, after an outage, the unmetered hours before it (up to the
catch-up window), oldest first. Per hour: ensure Stripe meters, compute usage records in
pages of billed accounts (a page that leaves prepaid accounts at or below zero starts
or signals their `credits-{account_id}` workflows) while the records of the pages before
go to Stripe in full batches, report the rest, mark the hour metered.
A page is one activity, so 10,000 pods are a few dozen activities, not 10,000.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.credits import CreditsActivities
    from activities.metering import MeteringActivities
    from tenantry.contracts.credits import CreditsDepletedBatch
    from tenantry.contracts.metering import (
        HoursToMeter,
        MeteredHour,
        MeteringInput,
        MeteringResult,
        MeterPageInput,
        ReportUsageInput,
        ReportUsageResult,
    )

from workflows.policies import PAGE_TIMEOUT, QUICK, SLOW_HEARTBEAT, UNTIL_DONE


def _scheduled_time() -> datetime | None:
    for pair in workflow.info().typed_search_attributes:
        if pair.key.name == "TemporalScheduledStartTime":
            value = pair.value
            return value if isinstance(value, datetime) else None
    return None


@workflow.defn
class MeteringWorkflow:
    @workflow.run
    async def run(self, inp: MeteringInput) -> MeteringResult:
        target = inp.hour
        if target is None:
            fired = _scheduled_time() or workflow.now()
            target = fired - timedelta(hours=1)
        hours = await workflow.execute_activity_method(
            MeteringActivities.metering_hours,
            HoursToMeter(target=target, catch_up=inp.catch_up, catch_up_hours=inp.catch_up_hours),
            start_to_close_timeout=QUICK,
            retry_policy=UNTIL_DONE,
        )
        await workflow.execute_activity_method(
            MeteringActivities.ensure_meters,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=UNTIL_DONE,
        )
        result = MeteringResult()
        for hour in hours.hours:
            records = 0
            after: str | None = None
            # While the next page is computed, the records so far go to Stripe in full
            # batches (one report at a time), so the hour's requests stay ceil(n / 100).
            reporting: workflow.ActivityHandle[ReportUsageResult] | None = None
            while True:
                page = await workflow.execute_activity_method(
                    MeteringActivities.meter_usage_page,
                    MeterPageInput(hour=hour, after_billed_account=after, limit=inp.page_size),
                    start_to_close_timeout=PAGE_TIMEOUT,
                    heartbeat_timeout=SLOW_HEARTBEAT,
                    retry_policy=UNTIL_DONE,
                )
                records += page.lines
                result.inserted += page.inserted
                if page.depleted:
                    # Prepaid accounts left at or below zero: their credits workflows
                    # (started or signalled) mail the owner and run the grace period.
                    await workflow.execute_activity_method(
                        CreditsActivities.credits_start_grace,
                        CreditsDepletedBatch(accounts=page.depleted),
                        start_to_close_timeout=PAGE_TIMEOUT,
                        heartbeat_timeout=SLOW_HEARTBEAT,
                        retry_policy=UNTIL_DONE,
                    )
                after = page.next_after
                if after is not None and (reporting is None or reporting.done()):
                    if reporting is not None:
                        result.reported += (await reporting).reported
                    reporting = workflow.start_activity_method(
                        MeteringActivities.report_usage,
                        ReportUsageInput(hour=hour, limit=inp.report_batch, full_batches_only=True),
                        start_to_close_timeout=PAGE_TIMEOUT,
                        heartbeat_timeout=SLOW_HEARTBEAT,
                        retry_policy=UNTIL_DONE,
                    )
                if after is None:
                    break
            if reporting is not None:
                result.reported += (await reporting).reported
            while True:
                sent = await workflow.execute_activity_method(
                    MeteringActivities.report_usage,
                    ReportUsageInput(hour=hour, limit=inp.report_batch),
                    start_to_close_timeout=PAGE_TIMEOUT,
                    heartbeat_timeout=SLOW_HEARTBEAT,
                    retry_policy=UNTIL_DONE,
                )
                result.reported += sent.reported
                if not sent.remaining:
                    break
            await workflow.execute_activity_method(
                MeteringActivities.mark_hour_metered,
                MeteredHour(hour=hour, records=records),
                start_to_close_timeout=QUICK,
                retry_policy=UNTIL_DONE,
            )
            result.hours.append(hour)
        return result
