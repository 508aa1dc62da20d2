"""Typed dependencies: what a handler may ask for, each built once per app or request."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.client_address import client_address
from api.errors import ApiError
from db.models import Account
from db.repo.accounts import key_and_account
from tenantry.crypto import API_KEY_PREFIX, api_key_prefix, verify_secret
from tenantry.settings import ApiSettings

_bearer = HTTPBearer(auto_error=False, description="admin token, host token or account API key")


# Dependencies that never block are `async def`: FastAPI runs a plain `def` dependency in
# its thread pool, a thread hop per request for what is an attribute read.


async def get_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


async def get_temporal(request: Request) -> Client:
    client: Client = request.app.state.temporal
    return client


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with sessions() as session:
        yield session


SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def get_client_address(request: Request, settings: SettingsDep) -> str:
    """The client's address for rate limits (X-Forwarded-For only from trusted proxies)."""
    return client_address(request, settings.trusted_proxies)


ClientAddressDep = Annotated[str, Depends(get_client_address)]


def unauthorized(message: str = "missing or invalid credentials") -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise unauthorized()
    return credentials.credentials


def _matches(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


async def require_admin(credentials: Credentials, settings: SettingsDep) -> None:
    if not _matches(bearer_token(credentials), settings.admin_token.get_secret_value()):
        raise unauthorized("invalid admin token")


async def require_host_token(credentials: Credentials, settings: SettingsDep) -> None:
    if not _matches(bearer_token(credentials), settings.host_bootstrap_token.get_secret_value()):
        raise unauthorized("invalid host bootstrap token")


async def require_metrics_access(credentials: Credentials, settings: SettingsDep) -> None:
    """/metrics: the metrics token when one is set; without one, open outside production
    and off (404) in production, where route names and error rates are not for everyone."""
    if settings.metrics_token is None:
        if settings.env == "production":
            raise ApiError(404, "not_found", "Not Found")
        return
    if not _matches(bearer_token(credentials), settings.metrics_token.get_secret_value()):
        raise unauthorized("invalid metrics token")


AdminDep = Depends(require_admin)
HostDep = Depends(require_host_token)


async def current_account(credentials: Credentials, session: SessionDep) -> Account:
    """The account owning the presented API key (hashed lookup, constant-time compare)."""
    token = bearer_token(credentials)
    if not token.startswith(API_KEY_PREFIX):
        raise unauthorized("invalid API key")
    found = await key_and_account(session, api_key_prefix(token))
    if found is None or not verify_secret(token, found[0].key_hash):
        raise unauthorized("invalid API key")
    account = found[1]
    if account.status != "active":
        raise unauthorized("account is not active")
    return account


CurrentAccount = Annotated[Account, Depends(current_account)]
