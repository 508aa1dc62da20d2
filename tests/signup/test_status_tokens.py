"""Status links survive a rotation of the encryption keys.

Status tokens are signed with a key of their own (`TENANTRY_STATUS_TOKEN_KEY`): the
encryption keys rotate (newest first) without changing any token, so a repeated signup
request after a rotation still hands out the token whose hash the signup stored.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr, ValidationError

from api.signup_tokens import status_token
from devstack.procs import free_port
from tenantry.settings import ApiSettings, CoreSettings
from tests.fixtures.api import RunningApi
from tests.fixtures.stack import Stack
from tests.settings.test_production import secret_values


def test_rotating_the_encryption_keys_keeps_status_links_working(
    stack: Stack, make_api: Callable[[ApiSettings], RunningApi]
) -> None:
    created = stack.signup("rotate")
    before = stack.api.settings
    port = free_port()
    # A new settings object: a copy would keep the cached list of keys.
    rotated = ApiSettings(
        **{
            **before.model_dump(),
            "encryption_key": SecretStr(
                f"{Fernet.generate_key().decode()},{before.encryption_key.get_secret_value()}"
            ),
            "api_port": port,
            "public_url": f"http://127.0.0.1:{port}",
        }
    )
    assert rotated.encryption_keys[0] != before.encryption_keys[0]
    api = make_api(rotated)
    with api.client() as http:
        again = http.post(
            "/v1/signups",
            json={"email": "owner@example.com", "subdomain": "rotate", "tier": "starter"},
        )
        assert again.status_code == 202, again.text
        assert again.json()["status_token"] == created["status_token"]
        view = http.get(
            f"/v1/signups/{created['signup_id']}",
            params={"status_token": created["status_token"]},
        )
    assert view.status_code == 200, view.text
    assert view.json()["status"] == "pending"


def test_a_new_status_token_key_changes_the_tokens() -> None:
    """The token depends on its key (and only on it among the secrets)."""
    one = CoreSettings(env="dev", status_token_key=SecretStr("status-key-one-0123456789"))
    two = CoreSettings(env="dev", status_token_key=SecretStr("status-key-two-0123456789"))
    assert status_token(one, "a-signup") != status_token(two, "a-signup")
    other_encryption = CoreSettings(
        env="dev",
        status_token_key=one.status_token_key,
        encryption_key=SecretStr(Fernet.generate_key().decode()),
    )
    assert status_token(other_encryption, "a-signup") == status_token(one, "a-signup")


def test_production_refuses_a_placeholder_status_token_key() -> None:
    with pytest.raises(ValidationError, match="TENANTRY_STATUS_TOKEN_KEY"):
        CoreSettings(
            env="production",
            **{k: v for k, v in secret_values().items() if k != "status_token_key"},
        )
