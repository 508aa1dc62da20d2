"""Test-suite wiring: every module in tests/fixtures/ is a pytest plugin.

Each part of the real local stack (PostgreSQL, Temporal, moto, the emulators, sshd,
dockerd, ...) has its fixtures in its own module there, started on free ports so that
tests never clash with a running `tenantry dev`.
"""

import os
from pathlib import Path

import pytest

# TENANTRY_ENV unset means production, which refuses the placeholder secrets and the
# emulator endpoints every test runs on: the suite, and every process it starts, is dev.
# (tests/settings/ unsets it on purpose, for the one child process it checks.)
os.environ["TENANTRY_ENV"] = "dev"
# The test daemons run with --iptables=false: host agents hook their pod firewall into
# FORWARD (matching only pod bridges), not DOCKER-USER.
os.environ["TENANTRY_POD_FIREWALL"] = "forward"

pytest.register_assert_rewrite("tests.fixtures", "tests.support")

pytest_plugins = sorted(
    f"tests.fixtures.{p.stem}"
    for p in (Path(__file__).parent / "fixtures").glob("*.py")
    if p.stem != "__init__"
)
