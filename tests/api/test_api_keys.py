"""API keys are found by the digest of the whole key: a shared display prefix locks no one out."""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy.orm import Session

from db.models import Account, ApiKey
from db.session import make_engine
from tenantry.crypto import api_key_prefix, hash_secret
from tests.fixtures.api import RunningApi


def _add_key(database_url: str, account_id: uuid.UUID, plaintext: str) -> None:
    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        session.add(
            ApiKey(
                account_id=account_id,
                prefix=api_key_prefix(plaintext),
                key_hash=hash_secret(plaintext),
            )
        )
    engine.dispose()


def _add_account(database_url: str, email: str) -> uuid.UUID:
    engine = make_engine(database_url)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        account = Account(email=email)
        session.add(account)
    engine.dispose()
    return account.id


def test_two_keys_sharing_a_prefix_each_open_their_own_account(
    api: RunningApi, database_url: str
) -> None:
    with api.admin() as admin:
        created = admin.post("/v1/admin/accounts", json={"email": "first@example.com"})
    assert created.status_code == 201, created.text
    first_key: str = created.json()["api_key"]

    # A second account whose key has the very same displayed prefix (`tnt_<8 hex>`),
    # inserted first-in-table order cannot decide which key a lookup finds.
    other_id = _add_account(database_url, "second@example.com")
    second_key = f"{api_key_prefix(first_key)}_{secrets.token_urlsafe(32)}"
    assert api_key_prefix(second_key) == api_key_prefix(first_key)
    _add_key(database_url, other_id, second_key)

    for key, account_id in ((first_key, created.json()["account_id"]), (second_key, str(other_id))):
        with api.client(key) as http:
            team = http.get("/v1/team")
        assert team.status_code == 200, team.text
        assert [m["account_id"] for m in team.json()["members"]] == [account_id]

    forged = f"{api_key_prefix(first_key)}_{secrets.token_urlsafe(32)}"
    with api.client(forged) as http:
        assert http.get("/v1/team").status_code == 401
