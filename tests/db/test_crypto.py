"""Secrets are ciphertext in the table and plain through the ORM; keys rotate; API keys
and tokens are stored only as digests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session

from db.models import Account, ApiKey, Pod, Tenant
from db.rotate import reencrypt_all
from db.session import make_async_sessionmaker
from tenantry.crypto import (
    CryptoError,
    Keyring,
    generate_api_key,
    generate_key,
    hash_secret,
    set_keyring,
    verify_secret,
)

OLD_KEY = generate_key()
NEW_KEY = generate_key()
SECRETS = {"db_password": "s3cr3t-value", "api_token": "tok-123"}


@pytest.fixture
def old_keyring() -> Iterator[Keyring]:
    keyring = Keyring([OLD_KEY])
    set_keyring(keyring)
    yield keyring
    set_keyring(None)


def test_encrypted_column_is_ciphertext_in_sql(db_engine: Engine, old_keyring: Keyring) -> None:
    with Session(db_engine, expire_on_commit=False) as session:
        tenant = Tenant(subdomain="acme", tier="starter", secrets=SECRETS)
        session.add(tenant)
        session.commit()
        tenant_id = tenant.id

    with db_engine.connect() as conn:
        raw = conn.execute(
            text("SELECT secrets FROM tenants WHERE id = :id"), {"id": tenant_id}
        ).scalar_one()
    assert raw.startswith("gAAAAA")  # a Fernet token
    assert "s3cr3t-value" not in raw and "db_password" not in raw

    with Session(db_engine, expire_on_commit=False) as session:
        assert session.get_one(Tenant, tenant_id).secrets == SECRETS


def test_old_key_still_decrypts_after_rotation(db_engine: Engine, old_keyring: Keyring) -> None:
    with Session(db_engine, expire_on_commit=False) as session:
        tenant = Tenant(subdomain="rotating", tier="pro", secrets=SECRETS)
        session.add(tenant)
        session.commit()
        tenant_id = tenant.id

    rotated = Keyring([NEW_KEY, OLD_KEY])
    set_keyring(rotated)
    with Session(db_engine, expire_on_commit=False) as session:
        assert session.get_one(Tenant, tenant_id).secrets == SECRETS

    assert reencrypt_all(db_engine) == 1
    assert reencrypt_all(db_engine, rotated) == 0  # already current: nothing to do

    with db_engine.connect() as conn:
        raw = conn.execute(
            text("SELECT secrets FROM tenants WHERE id = :id"), {"id": tenant_id}
        ).scalar_one()
    assert Keyring([NEW_KEY]).decrypt_json(raw) == SECRETS
    with pytest.raises(CryptoError):
        Keyring([OLD_KEY]).decrypt(raw)


def test_keyring_rotate_and_wrong_key() -> None:
    old = Keyring([OLD_KEY])
    token = old.encrypt("hello")
    with pytest.raises(CryptoError):
        Keyring([NEW_KEY]).decrypt(token)
    rotated = Keyring([NEW_KEY, OLD_KEY]).rotate(token)
    assert Keyring([NEW_KEY]).decrypt(rotated) == "hello"


def test_keyring_refuses_bad_configuration() -> None:
    with pytest.raises(CryptoError):
        Keyring([])
    with pytest.raises(CryptoError):
        Keyring(["not-a-fernet-key"])


def test_dev_settings_key_is_usable() -> None:
    from tenantry.settings import CoreSettings

    keyring = Keyring(CoreSettings().encryption_keys)
    assert keyring.decrypt(keyring.encrypt("x")) == "x"


async def test_async_orm_roundtrip(async_db_engine: AsyncEngine, old_keyring: Keyring) -> None:
    sessions = make_async_sessionmaker(async_db_engine)
    async with sessions() as session, session.begin():
        account = Account(email="dev@example.com")
        session.add(account)
        await session.flush()
        pod = Pod(account_id=account.id, name="web", tier="dev.small", secrets={"k": "v"})
        session.add(pod)
    async with sessions() as session:
        loaded = (await session.execute(select(Pod).where(Pod.name == "web"))).scalar_one()
        assert loaded.secrets == {"k": "v"}
        raw = (
            await session.execute(text("SELECT secrets FROM pods WHERE id = :id"), {"id": pod.id})
        ).scalar_one()
        assert raw.startswith("gAAAAA")


def test_api_key_is_stored_as_digest_only(db_engine: Engine) -> None:
    key = generate_api_key()
    assert key.plaintext.startswith(key.prefix) and key.prefix.startswith("tnt_")
    assert key.digest == hash_secret(key.plaintext) and len(key.digest) == 64
    assert key.plaintext != generate_api_key().plaintext

    with Session(db_engine, expire_on_commit=False) as session:
        account = Account(email="owner@example.com")
        session.add(account)
        session.flush()
        session.add(ApiKey(account_id=account.id, prefix=key.prefix, key_hash=key.digest))
        session.commit()

    with db_engine.connect() as conn:
        dump = " ".join(str(v) for row in conn.execute(text("SELECT * FROM api_keys")) for v in row)
    assert key.plaintext not in dump
    assert key.plaintext.split("_", 2)[2] not in dump

    with Session(db_engine, expire_on_commit=False) as session:
        found = session.scalars(
            select(ApiKey).where(ApiKey.key_hash == hash_secret(key.plaintext))
        ).one()
        assert verify_secret(key.plaintext, found.key_hash)
        assert not verify_secret(key.plaintext + "x", found.key_hash)
