"""Pod hosts (admin): every host with its capacity, usage and availability.

Hosts silent for longer than `host_heartbeat_timeout` are marked offline first, so the
list says what placement would see now.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AdminDep, SessionDep, SettingsDep
from api.pagination import Page, PageDep
from api.schemas.hosts import HostView, host_view
from db.repo import hosts as repo

router = APIRouter(prefix="/v1/admin/hosts", tags=["admin"], dependencies=[AdminDep])


@router.get("", response_model=Page[HostView])
async def list_hosts(
    *, session: SessionDep, settings: SettingsDep, page: PageDep
) -> Page[HostView]:
    """Hosts by name."""
    await repo.mark_stale_hosts(session, settings.host_heartbeat_timeout)
    await session.commit()
    hosts, more = await page.fetch(
        repo.hosts_page(session, after=page.starting_after, limit=page.limit)
    )
    return page.page([host_view(h) for h in hosts], more)
