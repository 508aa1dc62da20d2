"""Engine and session factories: the one place that turns a database URL into connections.

Every URL is normalised to the psycopg 3 driver, so `postgresql://...` from an operator
works as well as `postgresql+psycopg://...`; the same URL serves the sync engine (alembic,
scripts, activities in threads) and the async one (API, async activities).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, sessionmaker

DRIVER = "postgresql+psycopg"


def normalize_url(url: str) -> str:
    """The URL with the psycopg 3 driver, whatever driver (if any) it named."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"Tenantry needs PostgreSQL, not {parsed.get_backend_name()!r}")
    return parsed.set(drivername=DRIVER).render_as_string(hide_password=False)


def make_engine(url: str, **kwargs: Any) -> Engine:
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(normalize_url(url), **kwargs)


def make_async_engine(url: str, **kwargs: Any) -> AsyncEngine:
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(normalize_url(url), **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    # Objects stay readable after commit: handlers return them after the transaction.
    return sessionmaker(engine, expire_on_commit=False)


def make_async_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
