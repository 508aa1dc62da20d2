"""The caller's API keys (API key required): list them, add one, revoke one.

A key's secret is shown once, in the answer that creates it; lists show its id, name,
clear prefix and when it was created and last used. A revoked key answers 401 on its
very next request (every request reads the key table; nothing caches a key). The last
key cannot be revoked, since the account would be left with no way in: create another
first. Key changes of one account are serialised on the account's row.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter

from api.deps import CurrentAccount, SessionDep
from api.errors import ApiError, not_found
from api.pagination import Page, PageDep
from api.responses import BODY, errors
from api.schemas.keys import KeyCreate, KeyCreated, KeyRevoked, KeyView, key_view
from db.repo import api_keys as repo
from db.repo.audit import audit
from tenantry.crypto import generate_api_key

router = APIRouter(prefix="/v1/keys", tags=["keys"], responses=errors(401))

MAX_KEYS_PER_ACCOUNT = 100


@router.get("", response_model=Page[KeyView], responses=errors(404, 422))
async def list_keys(
    *, account: CurrentAccount, session: SessionDep, page: PageDep
) -> Page[KeyView]:
    """The account's keys in use, newest first (never their secrets)."""
    rows, more = await page.fetch(
        repo.list_keys(session, account.id, after=page.starting_after, limit=page.limit)
    )
    return page.page([key_view(row) for row in rows], more)


@router.post("", status_code=201, response_model=KeyCreated, responses=errors(*BODY, 409))
async def create_key(
    *, body: KeyCreate, account: CurrentAccount, session: SessionDep
) -> KeyCreated:
    """Adds a key; its secret (`api_key`) is shown only in this answer."""
    await repo.lock_account(session, account.id)
    if await repo.count_keys(session, account.id) >= MAX_KEYS_PER_ACCOUNT:
        raise ApiError(
            409,
            "too_many_keys",
            f"an account holds at most {MAX_KEYS_PER_ACCOUNT} keys: revoke one first",
        )
    key = generate_api_key()
    row = await repo.add_key(session, account.id, body.name, key)
    audit(
        session,
        actor=f"account:{account.id}",
        action="key.create",
        target=f"key:{row.id}",
        details={"prefix": key.prefix},
    )
    await session.commit()
    return KeyCreated(**key_view(row).model_dump(), api_key=key.plaintext)


@router.delete("/{key_id}", response_model=KeyRevoked, responses=errors(404, 409, 422))
async def revoke_key(
    *, key_id: uuid.UUID, account: CurrentAccount, session: SessionDep
) -> KeyRevoked:
    """Revokes a key at once; the account's last key cannot be (409)."""
    await repo.lock_account(session, account.id)
    row = await repo.key_for_update(session, account.id, key_id)
    if row is None:
        raise not_found("API key")
    if await repo.count_keys(session, account.id) <= 1:
        raise ApiError(
            409,
            "last_key",
            "this is the account's last API key: create another (POST /v1/keys) before revoking it",
            {"key_id": str(key_id)},
        )
    row.revoked_at = datetime.now(UTC)
    audit(
        session,
        actor=f"account:{account.id}",
        action="key.revoke",
        target=f"key:{row.id}",
        details={"prefix": row.prefix},
    )
    await session.commit()
    return KeyRevoked(**key_view(row).model_dump(), revoked_at=row.revoked_at)
