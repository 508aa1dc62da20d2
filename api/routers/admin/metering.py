"""Metering (admin): run one hour again; what is already metered stays as it is, so a
run of an hour that was right changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from api.deps import AdminDep, SettingsDep, TemporalDep
from api.errors import ApiError
from api.responses import BODY, errors
from api.schemas.metering import RunHour
from tenantry.contracts.common import metering_workflow_id
from tenantry.contracts.metering import MeteringInput, MeteringResult
from tenantry.rules.metering import utc_hour
from workflows.metering import MeteringWorkflow

router = APIRouter(
    prefix="/v1/admin/metering", tags=["admin"], dependencies=[AdminDep], responses=errors(401)
)


@router.post("/run", response_model=MeteringResult, responses=errors(*BODY))
async def run_metering(
    *, body: RunHour, settings: SettingsDep, temporal: TemporalDep
) -> MeteringResult:
    """Meters one closed UTC hour now; what is already metered is left as it is."""
    hour = body.hour if body.hour.tzinfo else body.hour.replace(tzinfo=UTC)
    if hour != utc_hour(hour):
        raise ApiError(422, "invalid_input", "hour must be the start of an hour", {"field": "hour"})
    if hour + timedelta(hours=1) > datetime.now(UTC):
        raise ApiError(422, "invalid_input", "that hour is not over yet", {"field": "hour"})
    started = datetime.now(UTC)
    result: MeteringResult = await temporal.execute_workflow(
        MeteringWorkflow.run,
        MeteringInput(hour=hour, catch_up=False),
        id=f"{metering_workflow_id(hour)}-manual-{started:%Y%m%dT%H%M%S%f}",
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    )
    return result
