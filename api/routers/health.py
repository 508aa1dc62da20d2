"""Liveness, readiness and metrics: what a load balancer and Prometheus ask."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import TemporalDep, require_metrics_access
from api.metrics import ApiMetrics
from api.responses import errors
from api.schemas.health import Alive, Ready

router = APIRouter(tags=["health"])

_CHECK_TIMEOUT = 2.0


@router.get("/healthz", response_model=Alive)
async def healthz() -> dict[str, str]:
    """The process is up (nothing else is checked)."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Ready, responses=errors(503))
async def readyz(request: Request, temporal: TemporalDep) -> JSONResponse:
    """Ready when the database and Temporal both answer."""
    checks: dict[str, Any] = {}

    async def database() -> None:
        async with request.app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def temporal_health() -> None:
        await temporal.service_client.check_health(timeout=timedelta(seconds=_CHECK_TIMEOUT))

    for name, check in (("database", database), ("temporal", temporal_health)):
        try:
            await asyncio.wait_for(check(), _CHECK_TIMEOUT)
            checks[name] = "ok"
        except Exception as exc:  # readiness reports any failure, whatever its kind
            checks[name] = f"unavailable: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    if ready:
        return JSONResponse({"status": "ready", "checks": checks})
    body = {
        "error": {
            "code": "unavailable",
            "message": "a dependency is unreachable",
            "details": {"checks": checks},
        }
    }
    return JSONResponse(body, status_code=503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
        **errors(401, 404),
    },
    dependencies=[Depends(require_metrics_access)],
)
async def metrics(request: Request) -> Response:
    """Prometheus text format."""
    registry: ApiMetrics = request.app.state.metrics
    return registry.render()
