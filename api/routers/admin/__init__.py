"""Admin endpoints (admin token), one module per `/v1/admin/*` sub-prefix.

Every router here carries the admin dependency itself, so a route cannot be added to
the package without it.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.routers.admin import (
    accounts,
    health,
    hosts,
    metering,
    pool,
    reconciliation,
    rollouts,
    signups,
    stripe,
    tenants,
)

routers: tuple[APIRouter, ...] = tuple(
    module.router
    for module in (
        signups,
        tenants,
        accounts,
        stripe,
        hosts,
        metering,
        reconciliation,
        rollouts,
        health,
        pool,
    )
)
