"""Reference specs (Hetzner's OpenAPI, Stripe's fixtures), kept in the repo's `tests/specs/`.

They live in the repository so that a fresh clone tests on its own: no test reads
anything beside it. `TENANTRY_SPECS_DIR` points the tests at another copy (a newer spec).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SPECS_DIR = Path(__file__).resolve().parents[1] / "specs"


def spec_path(name: str) -> Path:
    """`$TENANTRY_SPECS_DIR/name`, else `tests/specs/name`; a missing spec fails the test."""
    base = Path(os.environ.get("TENANTRY_SPECS_DIR") or SPECS_DIR)
    path = base / name
    if not path.exists():
        pytest.fail(f"reference spec {path} is missing (see tests/specs/README.md)")
    return path
