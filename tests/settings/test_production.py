"""Production is the default, refuses what only the local stack may use, and reaches the
real services when their endpoints are left empty.

Clients are checked by where they would connect (boto3's `meta.endpoint_url`, the
Stripe and Hetzner clients' bases); none of these tests touches the network.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tenantry.clients.sdk import (
    HETZNER_API,
    hetzner_client,
    route53_client,
    s3_client,
    stripe_client,
)
from tenantry.settings import DEV_DEFAULTS, CoreSettings, WorkerSettings

TENANTRY = Path(sys.executable).with_name("tenantry")

# Real-looking secrets: what a production process must be given.
SECRETS = {
    "TENANTRY_HETZNER_TOKEN": "hz-0123456789abcdef",
    "TENANTRY_STRIPE_API_KEY": "sk_live_0123456789abcdef",
    "TENANTRY_STRIPE_WEBHOOK_SECRET": "whsec_0123456789abcdef",
    "TENANTRY_ADMIN_TOKEN": "admin-0123456789abcdef",
    "TENANTRY_EDGE_TOKEN": "edge-0123456789abcdef",
    "TENANTRY_ENCRYPTION_KEY": "DIL4a9x1cm7vZ6bqk0AgGxJrZ2VfQ3sYw8Tn1Ue5Hoo=",
    "TENANTRY_STATUS_TOKEN_KEY": "status-0123456789abcdef",
}
EMPTY_ENDPOINTS = {
    "TENANTRY_HETZNER_ENDPOINT": "",
    "TENANTRY_ROUTE53_ENDPOINT": "",
    "TENANTRY_S3_ENDPOINT": "",
    "TENANTRY_STRIPE_API_BASE": "",
}


def secret_values() -> dict[str, str]:
    return {k.removeprefix("TENANTRY_").lower(): v for k, v in SECRETS.items()}


def production(**values: Any) -> CoreSettings:
    """Settings as a production process builds them: TENANTRY_ENV unset, real secrets."""
    return CoreSettings(**{"env": "production", **secret_values(), **values})


def without_tenantry_env() -> dict[str, str]:
    """This process's environment minus every TENANTRY_* variable (the suite sets dev)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}


def start(command: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Runs `tenantry <command>` in `cwd` (no .env file there) and returns how it ended."""
    return subprocess.run(
        [str(TENANTRY), command],
        env={**without_tenantry_env(), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# -- production by default ---------------------------------------------------------------
def test_unset_env_is_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TENANTRY_ENV")
    with pytest.raises(ValidationError, match="production refuses placeholder secrets"):
        CoreSettings()


@pytest.mark.parametrize("command", ["worker", "api"])
def test_a_process_without_env_refuses_a_placeholder_secret(command: str, tmp_path: Path) -> None:
    secrets = {k: v for k, v in SECRETS.items() if k != "TENANTRY_ADMIN_TOKEN"}
    result = start(command, {**secrets, **EMPTY_ENDPOINTS}, tmp_path)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "production refuses placeholder secrets; set TENANTRY_ADMIN_TOKEN" in output
    assert "TENANTRY_HETZNER_TOKEN" not in output  # it names only what is wrong


def test_a_process_without_env_refuses_emulator_endpoints(tmp_path: Path) -> None:
    endpoints = {**EMPTY_ENDPOINTS, "TENANTRY_STRIPE_API_BASE": "http://127.0.0.1:12111"}
    result = start("worker", {**SECRETS, **endpoints}, tmp_path)
    assert result.returncode != 0
    assert "TENANTRY_STRIPE_API_BASE=http://127.0.0.1:12111" in result.stdout + result.stderr


def test_production_defaults_are_the_real_services(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing about endpoints set at all: production reaches the real services."""
    monkeypatch.delenv("TENANTRY_ENV")
    settings = WorkerSettings(
        **{k.removeprefix("TENANTRY_").lower(): v for k, v in SECRETS.items()}
    )
    assert settings.env == "production"
    assert settings.hetzner_endpoint is None
    assert settings.route53_endpoint is None
    assert settings.s3_endpoint is None
    assert settings.stripe_api_base is None
    assert settings.aws_access_key_id is None and settings.aws_secret_access_key is None


@pytest.mark.parametrize(
    ("name", "url", "why"),
    [
        ("stripe_api_base", "http://127.0.0.1:12111", "http scheme"),
        ("hetzner_endpoint", "https://localhost:8470/v1", "loopback host"),
        ("route53_endpoint", "https://127.0.0.1:5055", "loopback or local address"),
        ("s3_endpoint", "https://[::1]:5055", "loopback or local address"),
        ("s3_endpoint", "http://minio.internal:9000", "http scheme"),
        ("stripe_api_base", "https://0.0.0.0", "loopback or local address"),
    ],
)
def test_production_refuses_emulator_endpoints(name: str, url: str, why: str) -> None:
    with pytest.raises(ValidationError) as raised:
        production(**{name: url})
    message = str(raised.value)
    assert f"TENANTRY_{name.upper()}={url}" in message
    assert why in message
    assert "TENANTRY_ALLOW_NONPRODUCTION_ENDPOINTS" in message


def test_staging_may_use_emulators_but_not_placeholder_secrets() -> None:
    staging = production(allow_nonproduction_endpoints=True, stripe_api_base="http://127.0.0.1:1")
    assert staging.stripe_api_base == "http://127.0.0.1:1"
    with pytest.raises(ValidationError, match="TENANTRY_HETZNER_TOKEN"):
        production(
            allow_nonproduction_endpoints=True, hetzner_token="dev-placeholder-hetzner-token"
        )


def test_production_accepts_https_endpoints_of_other_providers() -> None:
    """An S3-compatible store (Hetzner's, MinIO behind TLS) is a real production choice."""
    settings = production(s3_endpoint="https://fsn1.your-objectstorage.com")
    assert s3_client(settings).meta.endpoint_url == "https://fsn1.your-objectstorage.com"


def test_aws_placeholder_keys_are_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="TENANTRY_AWS_ACCESS_KEY_ID"):
        production(aws_access_key_id="testing", aws_secret_access_key="real-secret")
    with pytest.raises(ValidationError, match="or neither"):
        production(aws_access_key_id="AKIAREAL0123456789")


# -- empty endpoints and the default credential chain -------------------------------------
def test_empty_endpoints_give_the_real_aws_endpoints() -> None:
    settings = production(route53_endpoint="", s3_endpoint="", aws_region="eu-central-1")
    assert settings.route53_endpoint is None and settings.s3_endpoint is None
    assert route53_client(settings).meta.endpoint_url == "https://route53.amazonaws.com"
    assert s3_client(settings).meta.endpoint_url == "https://s3.eu-central-1.amazonaws.com"


def test_unset_aws_keys_use_the_default_credential_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    """No keys passed to boto3: it finds them itself (here the environment; an IAM role or a
    profile the same way)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMTHECHAIN")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-from-the-chain")
    settings = production(aws_access_key_id="", aws_secret_access_key="")
    assert settings.aws_access_key_id is None
    for client in (route53_client(settings), s3_client(settings)):
        credentials = client._request_signer._credentials  # what boto3 will sign with
        assert credentials is not None
        assert credentials.access_key == "AKIAFROMTHECHAIN"
        assert client.meta.endpoint_url.startswith("https://")


def test_configured_aws_keys_win_over_the_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMTHECHAIN")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-from-the-chain")
    settings = production(aws_access_key_id="AKIACONFIGURED", aws_secret_access_key="configured")
    assert s3_client(settings)._request_signer._credentials.access_key == "AKIACONFIGURED"


def test_empty_stripe_and_hetzner_endpoints_are_their_real_bases() -> None:
    settings = production(stripe_api_base="", hetzner_endpoint="")
    bases = stripe_client(settings)._requestor._options.base_addresses
    assert bases.get("api") == "https://api.stripe.com"
    assert bases.get("meter_events") == "https://meter-events.stripe.com"
    assert hetzner_client(settings)._client._endpoint == "https://api.hetzner.cloud/v1"


def test_hetzner_default_matches_hcloud_own() -> None:
    import inspect

    from hcloud import Client

    default = inspect.signature(Client.__init__).parameters["api_endpoint"].default
    assert default == HETZNER_API


# -- dev ----------------------------------------------------------------------------------
def test_dev_fills_in_the_local_stack_but_keeps_an_explicit_empty() -> None:
    dev = CoreSettings(env="dev")
    for name, value in DEV_DEFAULTS.items():
        current = getattr(dev, name)
        assert (
            current.get_secret_value() if hasattr(current, "get_secret_value") else current
        ) == value
    assert CoreSettings(env="dev", stripe_api_base="").stripe_api_base is None


def test_to_env_keeps_the_real_services_real_in_a_dev_child() -> None:
    """A parent with an endpoint unset hands it down as empty, not as the child's default."""
    parent = CoreSettings(env="dev", s3_endpoint="")
    env = parent.to_env()
    assert env["TENANTRY_S3_ENDPOINT"] == ""
    child = CoreSettings(**{k.removeprefix("TENANTRY_").lower(): v for k, v in env.items()})
    assert child.s3_endpoint is None
    assert child.route53_endpoint == DEV_DEFAULTS["route53_endpoint"]
