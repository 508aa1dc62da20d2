"""The waker: where the edge sends requests for pods that are not running.

Caddy routes a hibernated pod's hostnames here (rewritten to `/v1/edge/wake`, the Host
kept). The pod is found by its hostname (`tenantry.rules.edge_names`); a hibernated pod (or a failed
one with a snapshot) is asked to restore with source `wake`, and every answer for a pod
that will run again is 503 with a small "waking up" page that refreshes itself (and
`Retry-After`), until the pod runs and the edge routes the same URL to it. Unknown and
destroyed pods answer 404. A pod hibernated because its account's prepaid credits ran
out is not woken by traffic (that would run it, unpaid, until the next metering run
hibernates it again): its page says so, and its owner can still restore it explicitly.

It is public, so it must stay cheap under a flood of refreshes: a lookup by primary-key
range and account, and a restore update only while the database says the pod is
hibernated, at most once per pod every `WAKE_EVERY` seconds from one API process. The
workflow accepts a repeated restore while one is pending or running, so the rare extra
request changes nothing.
"""

from __future__ import annotations

import html
import time
import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from api.deps import SessionDep, SettingsDep, TemporalDep
from db.models import Pod
from db.repo.account_billing import billed_account_of, billing_standing
from db.repo.pods import find_pod_by_host
from tenantry.contracts.common import pod_workflow_id
from tenantry.contracts.pod import PodRequest, PodStatus
from tenantry.rules.billing import pod_start_refusal
from workflows.pod import PodWorkflow

router = APIRouter(prefix="/v1/edge", tags=["edge"])

REFRESH_SECONDS = 3
WAKE_EVERY = 2.0
_recent_wakes: dict[uuid.UUID, float] = {}
_COMING_BACK = {
    PodStatus.CREATING.value: "is being created",
    PodStatus.RUNNING.value: "is starting",
    PodStatus.HIBERNATING.value: "is going to sleep; it wakes up right after",
    PodStatus.HIBERNATED.value: "is waking up",
    PodStatus.RESTORING.value: "is waking up",
}


def _page(status: int, title: str, text: str, *, refresh: bool) -> HTMLResponse:
    meta = f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">' if refresh else ""
    body = (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"{meta}<title>{html.escape(title)}</title></head>"
        '<body style="font-family: sans-serif; text-align: center; margin-top: 20vh">'
        f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>\n"
    )
    headers = {"Cache-Control": "no-store"}
    if refresh:
        headers["Retry-After"] = str(REFRESH_SECONDS)
    return HTMLResponse(body, status_code=status, headers=headers)


def _due(pod_id: uuid.UUID) -> bool:
    """True at most once per pod every WAKE_EVERY seconds (in this process)."""
    now = time.monotonic()
    if now - _recent_wakes.get(pod_id, -WAKE_EVERY) < WAKE_EVERY:
        return False
    if len(_recent_wakes) > 10_000:
        _recent_wakes.clear()
    _recent_wakes[pod_id] = now
    return True


async def _ask_restore(temporal: Client, pod: Pod) -> bool:
    """Asks the pod's workflow to restore (source `wake`); False when it refused."""
    handle = temporal.get_workflow_handle(pod_workflow_id(str(pod.id)))
    try:
        await handle.execute_update(PodWorkflow.restore, PodRequest(source="wake"))
    except WorkflowUpdateFailedError:
        return False  # e.g. a failed pod with no snapshot left: nothing to wake
    except RPCError:
        return True  # Temporal is busy or away: the next refresh asks again
    return True


async def _may_not_start(session: AsyncSession, pod: Pod) -> bool:
    """Whether its account may not start pods now (the 402 of `POST /v1/pods`)."""
    billed = await billed_account_of(session, pod.account_id)
    return pod_start_refusal(await billing_standing(session, billed, datetime.now(UTC))) is not None


async def wake(
    *, request: Request, session: SessionDep, settings: SettingsDep, temporal: TemporalDep
) -> HTMLResponse:
    """A request for a pod that is not running: wake it, and say so (503, refreshing)."""
    host = request.headers.get("host", "")
    pod = await find_pod_by_host(session, host, settings.pod_base_domain)
    if pod is None or pod.status == PodStatus.DESTROYING.value:
        return _page(404, "No such pod", f"Nothing is served at {host}.", refresh=False)
    if pod.status == PodStatus.HIBERNATED.value and pod.status_reason == "credits":
        return _page(
            503,
            f"{pod.name} is paused",
            "Its account's prepaid credits ran out; its owner can top up and restore it.",
            refresh=False,
        )
    asleep = pod.status in (PodStatus.HIBERNATED.value, PodStatus.FAILED.value)
    if asleep and await _may_not_start(session, pod):
        return _page(
            503,
            f"{pod.name} is paused",
            "Its account has no free pod-hours left this month and nothing to pay with; "
            "its owner can add a card and restore it.",
            refresh=False,
        )
    if asleep and _due(pod.id) and not await _ask_restore(temporal, pod):
        return _page(
            503,
            f"{pod.name} has failed",
            "It cannot be woken up; its owner can see why with `tenantry pods show`.",
            refresh=False,
        )
    doing = _COMING_BACK.get(pod.status, "is waking up")
    text = f"{pod.name} {doing}. This page reloads by itself."
    return _page(503, f"{pod.name} is waking up", text, refresh=True)


# Whatever the visitor's method, the waker answers; one route per method, each with its own
# operation id (one route with seven methods would give the schema seven equal ids).
for _method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
    router.add_api_route(
        "/wake",
        wake,
        methods=[_method],
        operation_id=f"edge_wake_{_method.lower()}",
        response_class=HTMLResponse,
        responses={404: {"description": "no such pod"}, 503: {"description": "waking up"}},
    )
