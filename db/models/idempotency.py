"""Idempotency keys: the first answer to a create, kept 24 h to answer its retries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, created_at
from db.types import EncryptedBytes


class IdempotencyKey(Base):
    """One `Idempotency-Key` of one caller, with the request it came with and the answer.

    Keyed by (identity, key): two callers choosing the same key never see each other's
    answers. A row is only ever committed with its response: the request that inserts it
    holds it uncommitted while the handler runs, so a concurrent duplicate waits on the
    row's unique key instead of running too (see `api.idempotency`).
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_created_at", "created_at"),)

    # "account:<id>", "bearer:<digest>" or "client:<address>" (api.idempotency)
    identity: Mapped[str] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(primary_key=True)
    method: Mapped[str]
    path: Mapped[str]
    request_hash: Mapped[str]  # SHA-256 of the canonical request body
    status: Mapped[int | None]
    content_type: Mapped[str | None]
    # Encrypted: a create's answer can hold a secret shown once (an account's API key).
    response_body: Mapped[bytes | None] = mapped_column(EncryptedBytes())
    created_at: Mapped[datetime] = created_at()
