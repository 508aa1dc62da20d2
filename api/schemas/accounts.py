"""Accounts (admin): creating one with its first API key."""

from __future__ import annotations

from pydantic import BaseModel, EmailStr


class AccountCreate(BaseModel):
    model_config = {
        "json_schema_extra": {"examples": [{"email": "dev@example.com", "name": "Dev Team"}]}
    }

    email: EmailStr
    name: str | None = None


class AccountCreated(BaseModel):
    account_id: str
    api_key: str
