"""Database activities of signups and tenants: rows, the provisioning log, secrets.

Writes are upserts on business keys, so a retried activity rewrites the same row rather
than adding one. Secrets are generated here and stored encrypted; only their public part
is returned, so nothing secret enters workflow history.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.secrets_gen import new_tenant_secrets
from db.models import AuditLogEntry, ProvisioningLogEntry, Signup, Tenant
from tenantry.contracts.common import ErrorType
from tenantry.contracts.signup import (
    AuditEvent,
    ProvisioningEvent,
    SignupProgress,
    SignupRecord,
    TenantChange,
    TenantKeys,
    TenantRecord,
)


class RecordActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn
    async def log_provisioning(self, event: ProvisioningEvent) -> None:
        async with self._sessions() as session:
            session.add(_log_entry(event))
            await session.commit()

    @activity.defn
    async def record_signup_progress(self, progress: SignupProgress) -> None:
        """The tenant's updates, the log entries and the signup's new stage in one
        transaction: a status is never seen without the entries that led to it."""
        async with self._sessions() as session:
            # The signup first: the log entries refer to its row, which the first write makes.
            await _upsert_signup(session, progress.signup)
            for tenant in progress.tenants:
                await _update_tenant(session, tenant)
            session.add_all(_log_entry(event) for event in progress.events)
            await session.commit()

    @activity.defn
    async def ensure_tenant(self, record: TenantRecord) -> TenantKeys:
        """Creates the tenant row with fresh secrets once; later calls return the same key."""
        async with self._sessions() as session:
            statement = (
                insert(Tenant)
                .values(
                    id=uuid.UUID(record.tenant_id),
                    subdomain=record.subdomain,
                    tier=record.tier,
                    status=record.status,
                    email=record.email,
                    signup_id=uuid.UUID(record.signup_id),
                    stripe_customer_id=record.stripe_customer_id,
                    stripe_subscription_id=record.stripe_subscription_id,
                    secrets=new_tenant_secrets(record.subdomain),
                )
                .on_conflict_do_nothing(index_elements=[Tenant.id])
            )
            try:
                await session.execute(statement)
                await session.commit()
            except IntegrityError as exc:
                raise ApplicationError(
                    f"subdomain {record.subdomain} already belongs to another tenant",
                    type=ErrorType.CONFLICT,
                    non_retryable=True,
                ) from exc
            tenant = await session.get(Tenant, uuid.UUID(record.tenant_id))
            if tenant is None or tenant.secrets is None:
                raise ApplicationError(f"tenant {record.tenant_id} vanished", type="Internal")
            return TenantKeys(
                tenant_id=record.tenant_id,
                ssh_host_public_key=tenant.secrets["ssh_host_public_key"],
            )

    @activity.defn
    async def record_tenant_change(self, change: TenantChange) -> None:
        """The tenant's row and its log entry in one transaction."""
        async with self._sessions() as session:
            await _update_tenant(session, change.tenant)
            session.add(_log_entry(change.event))
            await session.commit()

    @activity.defn
    async def audit(self, entry: AuditEvent) -> None:
        async with self._sessions() as session:
            session.add(
                AuditLogEntry(
                    actor=entry.actor,
                    action=entry.action,
                    target=entry.target,
                    details=entry.details,
                )
            )
            await session.commit()


async def _upsert_signup(session: AsyncSession, record: SignupRecord) -> None:
    values: dict[str, Any] = {
        "id": uuid.UUID(record.signup_id),
        "subdomain": record.subdomain,
        "email": record.email,
        "tier": record.tier,
        "status_token_hash": record.status_token_hash,
        "status": record.status.value,
        "step": record.step.value,
        "error": record.error,
        "stripe_customer_id": record.stripe_customer_id,
        "stripe_checkout_session_id": record.stripe_checkout_session_id,
        "stripe_subscription_id": record.stripe_subscription_id,
        "tenant_id": uuid.UUID(record.tenant_id) if record.tenant_id else None,
    }
    if record.status.value == "paid":
        values["paid_at"] = _now()
    updates = {k: v for k, v in values.items() if k != "id" and v is not None}
    updates["error"] = record.error
    statement = insert(Signup).values(values)
    statement = statement.on_conflict_do_update(index_elements=[Signup.id], set_=updates)
    try:
        await session.execute(statement)
    except IntegrityError as exc:
        raise ApplicationError(
            f"subdomain {record.subdomain} is taken by another signup or tenant",
            type=ErrorType.CONFLICT,
            non_retryable=True,
        ) from exc


async def _update_tenant(session: AsyncSession, record: TenantRecord) -> None:
    fields = record.model_dump(
        exclude={"tenant_id", "signup_id", "subdomain", "tier"}, exclude_none=True
    )
    tenant = await session.get(Tenant, uuid.UUID(record.tenant_id))
    if tenant is None:
        raise ApplicationError(
            f"tenant {record.tenant_id} not found",
            type=ErrorType.NOT_FOUND,
            non_retryable=True,
        )
    for key, value in fields.items():
        setattr(tenant, key, value)
    tenant.tier = record.tier
    if record.status == "deleted":
        tenant.deleted_at = _now()


def _log_entry(event: ProvisioningEvent) -> ProvisioningLogEntry:
    return ProvisioningLogEntry(
        signup_id=uuid.UUID(event.signup_id) if event.signup_id else None,
        tenant_id=uuid.UUID(event.tenant_id) if event.tenant_id else None,
        action=event.action,
        details=dict(event.details),
    )


def _now() -> datetime:
    return datetime.now(UTC)
