"""The Dockerfile copies every package pyproject.toml installs, and .dockerignore lets
them through: a package added to the project but not to the image would only fail at
run time, in production (the image test builds the image, this says why it broke)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def packages() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    include = project["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted({pattern.rstrip("*").rstrip(".") for pattern in include})


def test_every_installed_package_is_copied_into_the_image() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\w+) /src/\1$", dockerfile, re.MULTILINE))
    assert set(packages()) <= copied, set(packages()) - copied


def test_the_build_context_holds_them_and_nothing_heavy() -> None:
    rules = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*", "the context starts empty and lets through only what is copied"
    allowed = {rule.removeprefix("!").rstrip("/") for rule in rules if rule.startswith("!")}
    assert set(packages()) <= allowed
    assert not allowed & {".venv", ".tenantry", ".git", "tests"}
