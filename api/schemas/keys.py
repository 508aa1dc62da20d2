"""API keys as the account sees them: never the secret, except once, when created."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from db.models import ApiKey

MAX_KEY_NAME_LENGTH = 64


class KeyCreate(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"name": "ci"}]}}

    name: str = Field(min_length=1, max_length=MAX_KEY_NAME_LENGTH, pattern=r"^[^\x00-\x1f]+$")


class KeyView(BaseModel):
    id: str
    name: str | None
    prefix: str = Field(description="the key's clear beginning, to tell keys apart")
    created_at: datetime
    last_used_at: datetime | None = Field(description="to the minute; null if never used")


class KeyCreated(KeyView):
    api_key: str = Field(description="the secret, shown only in this answer")


class KeyRevoked(KeyView):
    revoked_at: datetime


def key_view(key: ApiKey) -> KeyView:
    return KeyView(
        id=str(key.id),
        name=key.name,
        prefix=key.prefix,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
    )
