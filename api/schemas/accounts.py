"""Accounts: the admin's create, the self-serve sign-up and its verification."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, EmailStr, Field

MAX_EMAIL_LENGTH = 254  # RFC 5321's limit on a forward path, less its angle brackets

Email = Annotated[EmailStr, Field(max_length=MAX_EMAIL_LENGTH)]


class AccountCreate(BaseModel):
    model_config = {
        "json_schema_extra": {"examples": [{"email": "dev@example.com", "name": "Dev Team"}]}
    }

    email: EmailStr
    name: str | None = None


class AccountCreated(BaseModel):
    account_id: str
    api_key: str


class AccountSignup(BaseModel):
    """`POST /v1/accounts`: the address to mail a one-time link to."""

    model_config = {"json_schema_extra": {"examples": [{"email": "dev@example.com"}]}}

    email: Email


class AccountSignupAccepted(BaseModel):
    """The same answer whether or not the address has an account (no enumeration)."""

    status: Literal["accepted"] = "accepted"
    message: str = Field(
        default="If the address can receive mail, a one-time link is on its way to it.",
    )


class AccountVerify(BaseModel):
    model_config = {
        "json_schema_extra": {"examples": [{"token": "tver_Kx9wP0aVbLmN7cR5tY3q2-Kx9wP0aV"}]}
    }

    token: str = Field(min_length=1, max_length=200, description="from the mailed link")


class AccountVerified(BaseModel):
    """The account's new API key, shown only in this answer."""

    account_id: str
    api_key: str
    new_account: bool = Field(
        description="false when the address had an account: the key was added to it"
    )
