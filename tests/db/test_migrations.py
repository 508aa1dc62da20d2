"""Migrations are the only way the schema changes: they must go up, down and up again,
work through the `tenantry migrate` command, and match the models exactly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from db.migrate import current_revision, downgrade_base, upgrade_head
from db.models import Base
from db.session import make_engine

REPO = Path(__file__).resolve().parents[2]
EXPECTED_TABLES = {
    "accounts",
    "api_keys",
    "account_verifications",
    "team_invites",
    "signups",
    "tenants",
    "provisioning_log",
    "hosts",
    "host_join_tokens",
    "pods",
    "pod_events",
    "snapshots",
    "usage_records",
    "credits_ledger",
    "processed_webhook_events",
    "audit_log",
    "metering_runs",
    "rollouts",
    "rollout_tenants",
    "tenant_health",
    "idempotency_keys",
    "pool_servers",
    "pool_claims",
}


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(empty_database_url: str) -> None:
    assert _tables(empty_database_url) == set()

    upgrade_head(empty_database_url)
    assert _tables(empty_database_url) == EXPECTED_TABLES
    assert current_revision(empty_database_url) is not None

    downgrade_base(empty_database_url)
    assert _tables(empty_database_url) == set()
    assert current_revision(empty_database_url) is None

    upgrade_head(empty_database_url)
    assert _tables(empty_database_url) == EXPECTED_TABLES


def test_upgrade_head_twice_is_harmless(database_url: str) -> None:
    before = current_revision(database_url)
    upgrade_head(database_url)
    assert current_revision(database_url) == before


def test_models_match_migrations(db_engine: Engine) -> None:
    with db_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_tenantry_migrate_command(empty_database_url: str) -> None:
    tenantry = Path(sys.executable).parent / "tenantry"
    result = subprocess.run(
        [str(tenantry), "migrate"],
        env={**os.environ, "TENANTRY_DATABASE_URL": empty_database_url},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "head" in result.stdout
    assert _tables(empty_database_url) == EXPECTED_TABLES
