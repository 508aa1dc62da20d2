"""Signups: the public request and its answers, and the admin's list entry."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, EmailStr, Field, field_validator

from db.models import Signup
from tenantry.contracts.signup import SignupStatus
from tenantry.rules.plans import TenantTier
from tenantry.rules.validation import subdomain_problem


class SignupCreate(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {"email": "owner@example.com", "subdomain": "northwind", "tier": "starter"}
            ]
        }
    }

    email: EmailStr
    subdomain: str = Field(description="DNS label: 3-63 lowercase letters, digits, hyphens")
    tier: TenantTier

    @field_validator("subdomain")
    @classmethod
    def _valid_subdomain(cls, value: str) -> str:
        problem = subdomain_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class SignupCreated(BaseModel):
    signup_id: str
    status: SignupStatus
    checkout_url: str | None
    status_token: str


class SignupView(BaseModel):
    signup_id: str
    status: str
    step: str | None
    tenant_id: str | None = None
    url: str | None = None
    error: str | None = None


class AdminSignup(SignupView):
    subdomain: str
    email: str
    tier: str
    created_at: datetime
    reset_event_id: int | None = Field(
        default=None,
        description="where `temporal workflow reset --event-id` restarts provisioning",
    )


class Decision(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"reason": "verified the company"}]}}

    reason: str | None = None


def signup_view(signup: Signup, base_domain: str) -> SignupView:
    active = signup.status == SignupStatus.ACTIVE.value
    return SignupView(
        signup_id=str(signup.id),
        status=signup.status,
        step=signup.step,
        tenant_id=str(signup.tenant_id) if signup.tenant_id else None,
        url=f"https://{signup.subdomain}.{base_domain}" if active else None,
        error=signup.error,
    )


def admin_signup(signup: Signup, base_domain: str, reset_event_id: int | None) -> AdminSignup:
    return AdminSignup(
        **signup_view(signup, base_domain).model_dump(),
        subdomain=signup.subdomain,
        email=signup.email,
        tier=signup.tier,
        created_at=signup.created_at,
        reset_event_id=reset_event_id,
    )
