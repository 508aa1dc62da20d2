"""The PostgreSQL launcher that `tenantry dev` uses: reuse of state, clear errors."""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from devstack.postgres import PostgresServer, libpq_url
from devstack.procs import StackError, free_port


@pytest.fixture
def state_dir() -> Iterator[Path]:
    # A private (0700) directory like pytest's own: the server user must still get in.
    root = Path(tempfile.mkdtemp(prefix="tenantry-pgtest-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _query(url: str, sql: str) -> object:
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        cursor = conn.execute(sql)
        row = cursor.fetchone() if cursor.description else None
        return row[0] if row else None


def test_second_start_reuses_the_data_dir(state_dir: Path) -> None:
    server = PostgresServer(state_dir / "postgres", port=free_port(), durable=False)
    with server:
        assert server.url().endswith(f"127.0.0.1:{server.port}/tenantry")
        assert _query(server.url(), "SELECT current_user") == "tenantry"
        _query(server.url(), "CREATE TABLE kept (x int)")
        server.create_database("other", template="tenantry")
    assert not server.running
    assert (state_dir / "postgres.log").exists()

    again = PostgresServer(state_dir / "postgres", port=free_port(), durable=False)
    with again:
        assert _query(again.url(), "SELECT to_regclass('kept') IS NOT NULL") is True
        assert _query(again.url("other"), "SELECT to_regclass('kept') IS NOT NULL") is True


def test_port_in_use_is_a_clear_error(state_dir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(StackError, match=f"port {port} .* already in use"):
            PostgresServer(state_dir / "postgres", port=port).start()


def test_refuses_a_foreign_non_empty_directory(state_dir: Path) -> None:
    (state_dir / "postgres").mkdir()
    (state_dir / "postgres" / "notes.txt").write_text("mine")
    with pytest.raises(StackError, match="neither empty nor a PostgreSQL data directory"):
        PostgresServer(state_dir / "postgres", port=free_port()).start()


def test_a_server_left_behind_by_a_killed_run_is_replaced(state_dir: Path) -> None:
    port = free_port()
    crashed = PostgresServer(state_dir / "postgres", port=port, durable=False)
    crashed.start()
    # The supervisor dies without stopping the server: the server keeps the port.
    crashed._process = None
    again = PostgresServer(state_dir / "postgres", port=port, durable=False)
    with again:
        assert _query(again.url(), "SELECT 1") == 1
