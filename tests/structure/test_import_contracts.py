"""The import contracts in pyproject.toml hold today, and catch the imports they forbid.

`make lint` runs lint-imports on the repo; these tests also prove that each contract can
fail. A copy of the repo's packages gets one forbidden import appended to one module, and
lint-imports, run in that copy, must exit non-zero and name the broken contract; the
unmodified copy must pass, so the failure comes from the added line.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _config() -> dict[str, object]:
    config: dict[str, object] = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"][
        "importlinter"
    ]
    return config


def _contract_name(contract_id: str) -> str:
    contracts = _config()["contracts"]
    assert isinstance(contracts, list)
    for contract in contracts:
        if contract["id"] == contract_id:
            return str(contract["name"])
    raise AssertionError(f"no import contract with id {contract_id!r} in pyproject.toml")


def _copy_repo(dest: Path) -> Path:
    """pyproject.toml and every root package lint-imports analyses, without data or caches."""
    dest.mkdir()
    shutil.copy(REPO / "pyproject.toml", dest / "pyproject.toml")
    roots = _config()["root_packages"]
    assert isinstance(roots, list)
    skip = shutil.ignore_patterns("__pycache__", "*.json", "results", "*.md")
    for package in roots:
        shutil.copytree(REPO / package, dest / package, ignore=skip)
    return dest


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_repository_keeps_every_contract(tmp_path: Path) -> None:
    result = _lint_imports(_copy_repo(tmp_path / "repo"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract_id"),
    [
        ("activities/dns.py", "import devstack", "product-no-dev-code"),
        ("api/app.py", "import tests.support.specs", "product-no-dev-code"),
        ("tenantry/contracts/common.py", "import db", "contracts-are-data"),
        ("tenantry/rules/plans.py", "import tenantry.clients.sdk", "rules-are-pure"),
        ("workflows/signup.py", "import sqlalchemy", "workflows-no-io"),
        # Indirect: a workflow imports the rules, and the rules now import an SDK.
        ("tenantry/rules/plans.py", "import stripe", "workflows-no-io"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, line: str, contract_id: str
) -> None:
    copy = _copy_repo(tmp_path / "repo")
    with (copy / module).open("a") as f:
        f.write(f"\n{line}  # added by the test\n")
    result = _lint_imports(copy)
    assert result.returncode != 0, result.stdout
    # lint-imports wraps long lines: compare with whitespace collapsed.
    broken = " ".join(result.stdout.split("Broken contracts", 1)[-1].split())
    assert _contract_name(contract_id) in broken, result.stdout
