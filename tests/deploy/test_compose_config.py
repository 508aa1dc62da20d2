"""docker-compose.yml is valid for Compose v2 and has the shape production relies on.

`docker-compose config` resolves the file (anchors, variables, secrets) without an
engine, so this runs in well under a second; the stack itself runs in test_stack.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.common import SearchAttributeKey

from tenantry.contracts import common
from tests.deploy.conftest import COMPOSE

REPO = Path(__file__).resolve().parents[2]
SECRETS = [
    "postgres_password", "tenantry_database_url", "tenantry_admin_token",
    "tenantry_edge_token", "tenantry_encryption_key", "tenantry_hetzner_token",
    "tenantry_aws_access_key_id", "tenantry_aws_secret_access_key", "tenantry_stripe_api_key",
    "tenantry_stripe_webhook_secret", "tenantry_smtp_url", "tenantry_status_token_key",
    "ssh_key", "ssh_key.pub",
]  # fmt: skip


def config(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    secrets = tmp_path / "secrets"
    secrets.mkdir(exist_ok=True)
    for name in SECRETS:
        (secrets / name).write_text("x\n")
    return subprocess.run(
        [str(COMPOSE), "-f", str(REPO / "docker-compose.yml"), "config"],
        env={"PATH": "/usr/bin:/bin", "TENANTRY_SECRETS_DIR": str(secrets), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def resolved(tmp_path: Path) -> dict[str, Any]:
    result = config(tmp_path, TENANTRY_PUBLIC_URL="https://api.example.com")
    assert result.returncode == 0, result.stderr
    return dict(yaml.safe_load(result.stdout))


def test_refuses_to_start_without_a_public_url(tmp_path: Path) -> None:
    result = config(tmp_path)
    assert result.returncode != 0
    assert "TENANTRY_PUBLIC_URL" in result.stderr


def test_every_part_is_there(resolved: dict[str, Any]) -> None:
    assert set(resolved["services"]) == {
        "postgres", "temporal", "temporal-search-attributes", "temporal-ui", "migrate", "api",
        "worker", "caddy", "edge-agent",
    }  # fmt: skip


def test_the_worker_scales(resolved: dict[str, Any]) -> None:
    worker = resolved["services"]["worker"]
    assert "container_name" not in worker
    assert not worker.get("ports")
    assert worker["environment"]["TENANTRY_PUBLIC_URL"] == "https://api.example.com"


def test_secrets_are_files_and_the_worker_gets_both_halves_of_its_key(
    resolved: dict[str, Any],
) -> None:
    for name in ("api", "worker", "migrate", "edge-agent"):
        service = resolved["services"][name]
        assert not any("TOKEN" in k or "SECRET" in k for k in service["environment"]), name
        targets = {Path(s.get("target", s["source"])).name for s in service["secrets"]}
        assert {"tenantry_admin_token", "tenantry_encryption_key", "ssh_key", "ssh_key.pub"} <= (
            targets
        )
        assert service["environment"]["TENANTRY_SSH_KEY_PATH"] == "/run/secrets/ssh_key"
        assert service["environment"]["TENANTRY_ENV"] == "production"


def test_registers_every_search_attribute_the_workflows_set(resolved: dict[str, Any]) -> None:
    script = " ".join(resolved["services"]["temporal-search-attributes"]["command"])
    keys = [v for v in vars(common).values() if isinstance(v, SearchAttributeKey)]
    assert len(keys) == 5
    for key in keys:
        assert key.name in script, key.name
    assert "Keyword" in script


def test_the_app_waits_for_its_schema_and_search_attributes(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    completed = "service_completed_successfully"
    assert services["api"]["depends_on"]["migrate"]["condition"] == completed
    assert services["worker"]["depends_on"]["migrate"]["condition"] == completed
    assert services["worker"]["depends_on"]["temporal-search-attributes"]["condition"] == completed


def test_temporal_cloud_replaces_the_bundled_temporal(tmp_path: Path) -> None:
    """deploy/temporal-cloud.yml: the API and workers reach the configured cluster with
    its API key, and wait for nothing of the bundled Temporal."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name in [*SECRETS, "tenantry_temporal_api_key"]:
        (secrets / name).write_text("x\n")
    files = ["-f", str(REPO / "docker-compose.yml"), "-f", str(REPO / "deploy/temporal-cloud.yml")]
    result = subprocess.run(
        [str(COMPOSE), *files, "config"],
        env={
            "PATH": "/usr/bin:/bin",
            "TENANTRY_SECRETS_DIR": str(secrets),
            "TENANTRY_PUBLIC_URL": "https://api.example.com",
            "TENANTRY_TEMPORAL_ADDRESS": "prod.acme.tmprl.cloud:7233",
            "TENANTRY_TEMPORAL_NAMESPACE": "prod.acme",
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    for name in ("api", "worker"):
        service = services[name]
        assert set(service["depends_on"]) == {"migrate"}, name
        assert service["environment"]["TENANTRY_TEMPORAL_ADDRESS"] == "prod.acme.tmprl.cloud:7233"
        assert service["environment"]["TENANTRY_TEMPORAL_NAMESPACE"] == "prod.acme"
        targets = {Path(s.get("target", s["source"])).name for s in service["secrets"]}
        assert {"tenantry_temporal_api_key", "tenantry_admin_token"} <= targets, name
