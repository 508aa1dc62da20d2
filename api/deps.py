"""Typed dependencies: what a handler may ask for, each built once per app or request."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.client_address import client_address
from api.errors import ApiError
from db.models import Account, Host
from db.repo.accounts import key_and_account
from db.repo.api_keys import note_use
from db.repo.hosts import host_by_credential
from tenantry.crypto import API_KEY_PREFIX, hash_secret
from tenantry.settings import ApiSettings

_bearer = HTTPBearer(
    auto_error=False,
    description="admin token, host join token or credential, edge token or account API key",
)


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


# Pod hosts and the edge: no shared secret. A host registers once with a single-use join
# token an admin minted and gets a credential of its own, which is all it may act as; the
# edge agent has a token that can only report traffic. Only SHA-256 digests are stored,
# and a digest of a high-entropy token is looked up directly (no timing to learn from).


async def join_token_hash(credentials: Credentials) -> str:
    """The digest of the presented join token; the router checks it is usable, in the
    registration's own transaction, so a token is spent exactly once."""
    return hash_secret(bearer_token(credentials))


async def current_host(credentials: Credentials, session: SessionDep) -> Host:
    """The host whose credential was presented."""
    host = await host_by_credential(session, hash_secret(bearer_token(credentials)))
    if host is None:
        raise unauthorized("invalid host credential")
    return host


async def host_or_edge(
    credentials: Credentials, session: SessionDep, settings: SettingsDep
) -> Host | None:
    """A host (by its credential) or the edge agent (None, by the edge token)."""
    token = bearer_token(credentials)
    if _matches(token, settings.edge_token.get_secret_value()):
        return None
    host = await host_by_credential(session, hash_secret(token))
    if host is None:
        raise unauthorized("invalid host credential or edge token")
    return host


JoinTokenHash = Annotated[str, Depends(join_token_hash)]
CurrentHost = Annotated[Host, Depends(current_host)]
HostOrEdge = Annotated[Host | None, Depends(host_or_edge)]


async def current_account(credentials: Credentials, session: SessionDep) -> Account:
    """The account owning the presented API key, found by the key's unique digest.

    The digest is SHA-256 of the whole key (`tenantry.crypto.hash_secret`): keys carry 256
    random bits, so a fast hash cannot be brute-forced and, being deterministic, it is the
    index itself. An equality match on a 64-hex digest leaks nothing useful by timing, so
    no separate constant-time compare is needed. Every stored key already has this digest
    (keys were never stored under a slow hash), so no legacy path exists. Nothing caches
    a key, so a revoked one fails on its next request; `last_used_at` is noted at most
    once a minute per key (`db.repo.api_keys.note_use`).
    """
    token = bearer_token(credentials)
    if not token.startswith(API_KEY_PREFIX):
        raise unauthorized("invalid API key")
    found = await key_and_account(session, hash_secret(token))
    if found is None:
        raise unauthorized("invalid API key")
    key, account = found
    if account.status != "active":
        raise unauthorized("account is not active")
    await note_use(session, key, datetime.now(UTC))
    return account


CurrentAccount = Annotated[Account, Depends(current_account)]
