"""Secrets as files: what Docker and Compose mount under /run/secrets becomes settings.

The compose file hands every secret over this way (never as an environment variable), so
a setting that stopped reading its file would run production on a placeholder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tenantry import settings as settings_module
from tenantry.settings import CoreSettings, HostAgentSettings, WorkerSettings


def test_a_file_named_after_the_setting_sets_it(tmp_path: Path) -> None:
    (tmp_path / "tenantry_admin_token").write_text("admin-from-file\n")
    (tmp_path / "tenantry_database_url").write_text("postgresql+psycopg://u:p@db/tenantry\n")
    settings = WorkerSettings(_secrets_dir=tmp_path)  # type: ignore[call-arg]
    assert settings.admin_token.get_secret_value() == "admin-from-file"
    assert settings.database_url == "postgresql+psycopg://u:p@db/tenantry"


def test_the_host_agent_reads_its_join_token_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "tenantry_host_join_token").write_text("join-token-from-file")
    settings = HostAgentSettings(_secrets_dir=tmp_path)  # type: ignore[call-arg]
    assert settings.host_join_token is not None
    assert settings.host_join_token.get_secret_value() == "join-token-from-file"


def test_an_environment_variable_wins_over_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "tenantry_admin_token").write_text("from-file")
    monkeypatch.setenv("TENANTRY_ADMIN_TOKEN", "from-env")
    settings = CoreSettings(_secrets_dir=tmp_path)  # type: ignore[call-arg]
    assert settings.admin_token.get_secret_value() == "from-env"


def test_production_still_refuses_a_placeholder_given_as_a_file(tmp_path: Path) -> None:
    (tmp_path / "tenantry_admin_token").write_text("changeme")
    with pytest.raises(ValueError, match="TENANTRY_ADMIN_TOKEN"):
        CoreSettings(_secrets_dir=tmp_path, env="production")  # type: ignore[call-arg]


def test_every_process_looks_in_run_secrets_when_it_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Path("/run/secrets") == settings_module.SECRETS_DIR
    for cls in (CoreSettings, WorkerSettings, HostAgentSettings):
        assert cls.model_config.get("secrets_dir") == settings_module._secrets_dir()
    monkeypatch.setattr(settings_module, "SECRETS_DIR", tmp_path)
    assert settings_module._secrets_dir() == tmp_path
    monkeypatch.setattr(settings_module, "SECRETS_DIR", tmp_path / "missing")
    assert settings_module._secrets_dir() is None  # no warning from pydantic-settings
