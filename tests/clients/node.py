"""Runs a script of this directory with Node and returns the JSON it prints.

The clients it uses are pinned in package.json/package-lock.json and installed into
node_modules/ (git-ignored) by `make install` (scripts/install.sh runs `npm ci` here).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent


def run_node(script: str, env: dict[str, str], timeout: float = 180) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: install Node.js >= 18 (`make install` does on Debian)")
    if not (HERE / "node_modules" / ".package-lock.json").exists():
        pytest.fail(f"{HERE}/node_modules is missing: run `make install` (npm ci there)")
    done = subprocess.run(
        [node, str(HERE / script)],
        cwd=HERE,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"node {script} exited {done.returncode}:\n{done.stderr[-4000:]}"
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))
