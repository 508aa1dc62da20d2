"""A workflow and an activity that only log, for the JSON log tests."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="observability_log_activity")
async def log_activity(word: str) -> str:
    activity.logger.info("activity says %s", word)
    return word


@workflow.defn(name="ObservabilityLogWorkflow")
class LogWorkflow:
    @workflow.run
    async def run(self, word: str) -> str:
        workflow.logger.info("workflow says %s", word)
        return await workflow.execute_activity(
            log_activity, word, start_to_close_timeout=timedelta(seconds=10)
        )
