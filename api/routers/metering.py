"""Admin metering: re-run an hour (harmless when already right) and reconcile with Stripe."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from api.deps import AdminDep, SettingsDep, TemporalDep
from api.errors import ApiError
from db.repo.reconciliation import Reconciliation, reconcile
from db.session import make_engine
from tenantry.contracts.common import metering_workflow_id
from tenantry.contracts.metering import MeteringInput, MeteringResult
from tenantry.rules.metering import parse_month, utc_hour
from workflows.metering import MeteringWorkflow

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[AdminDep])


class RunHour(BaseModel):
    hour: datetime


@router.post("/metering/run", response_model=MeteringResult)
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


@router.get("/reconciliation", response_model=Reconciliation)
async def reconciliation(
    *,
    request: Request,
    settings: SettingsDep,
    month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$")],
) -> Reconciliation:
    """The local ledger against Stripe's meter event summaries; lists every difference."""
    try:
        start = parse_month(month)
    except ValueError as exc:
        raise ApiError(422, "invalid_input", str(exc), {"field": "month"}) from exc

    def run() -> Reconciliation:
        engine = make_engine(settings.database_url)
        try:
            with Session(engine) as session:
                return reconcile(session, request.app.state.stripe, start)
        finally:
            engine.dispose()

    return await asyncio.to_thread(run)
