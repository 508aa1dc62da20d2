"""Who did what to which object: admin actions and security-relevant changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Identity, Index, text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, created_at


class AuditLogEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_target_at", "target", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    actor: Mapped[str]  # "admin", "account:<id>", "system:<workflow id>"
    action: Mapped[str]
    target: Mapped[str | None]  # "tenant:<id>", "pod:<id>", ...
    details: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'"))
    at: Mapped[datetime] = created_at()
