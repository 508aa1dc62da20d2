"""The audit log: who did what to which thing, written in the action's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AuditLogEntry


def audit(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    target: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Adds an entry to the session: it is written with the caller's commit, or not at all."""
    entry = AuditLogEntry(actor=actor, action=action, target=target)
    if details is not None:
        entry.details = details
    session.add(entry)
