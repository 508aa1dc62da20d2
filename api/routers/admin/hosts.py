"""Pod hosts (admin): every host with its capacity, usage and availability.

Hosts silent for longer than `host_heartbeat_timeout` are marked offline first, so the
list says what placement would see now.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AdminDep, SessionDep, SettingsDep
from api.responses import errors
from api.schemas.hosts import HostView, host_view
from db.repo import hosts as repo

router = APIRouter(
    prefix="/v1/admin/hosts", tags=["admin"], dependencies=[AdminDep], responses=errors(401)
)


@router.get("", response_model=list[HostView])
async def list_hosts(*, session: SessionDep, settings: SettingsDep) -> list[HostView]:
    await repo.mark_stale_hosts(session, settings.host_heartbeat_timeout)
    await session.commit()
    return [host_view(h) for h in await repo.all_hosts(session)]
