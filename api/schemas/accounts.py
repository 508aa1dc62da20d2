"""Accounts (admin): creating one with its first API key."""

from __future__ import annotations

from pydantic import BaseModel, EmailStr


class AccountCreate(BaseModel):
    email: EmailStr
    name: str | None = None


class AccountCreated(BaseModel):
    account_id: str
    api_key: str
