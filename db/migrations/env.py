"""Alembic environment: runs migrations on the URL the caller gave, one process at a time.

The URL comes from `db.migrate.alembic_config` (attribute `url`), from `alembic -x url=...`,
or else from the settings. An advisory lock serialises concurrent `tenantry migrate` runs
(say, API and worker starting together), and each migration runs in its own transaction.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool, text

from db.models import Base
from db.session import make_engine, normalize_url

# Any constant: it only has to be the same for every process migrating this database.
MIGRATION_LOCK_KEY = 0x74656E616E747279  # "tenantry"

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    if url := config.attributes.get("url"):
        return str(url)
    if url := context.get_x_argument(as_dictionary=True).get("url"):
        return normalize_url(url)
    from tenantry.settings import DatabaseSettings

    return normalize_url(DatabaseSettings().database_url)


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            connection.commit()
            try:
                context.configure(
                    connection=connection,
                    target_metadata=target_metadata,
                    transaction_per_migration=True,
                    compare_type=True,
                )
                with context.begin_transaction():
                    context.run_migrations()
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
                connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
