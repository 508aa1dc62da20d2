"""Reference specs (Hetzner's OpenAPI, Stripe's fixtures) from `../shared/specs` beside the repo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def spec_path(name: str) -> Path:
    """`$TENANTRY_SPECS_DIR/name`, else `../shared/specs/name`; a missing spec fails the test."""
    base = Path(os.environ.get("TENANTRY_SPECS_DIR", REPO.parent / "shared" / "specs"))
    path = base / name
    if not path.exists():
        pytest.fail(f"reference spec {path} is missing (set TENANTRY_SPECS_DIR)")
    return path
