"""The production image: built from the repository's Dockerfile, every process runs from it.

Built on the local Debian base from the wheelhouse (see builds.py); a production build
differs only in its base image and in reaching the package index.
"""

from __future__ import annotations

import json

import pytest

from devstack.docker import docker_cli

pytestmark = pytest.mark.slow

COMMANDS = ["api", "worker", "migrate", "host-agent", "edge-agent"]


def run(docker_host: str, image: str, *args: str, entrypoint: str | None = None) -> str:
    prefix = ["--entrypoint", entrypoint] if entrypoint else []
    return docker_cli(docker_host, "run", "--rm", "--network", "none", *prefix, image, *args)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_process_starts_from_the_image(
    deploy_docker: str, tenantry_image: str, command: str
) -> None:
    # --help imports the command's module: a dependency missing from `pip install .`
    # (no extras) fails here.
    assert "Usage: tenantry" in run(deploy_docker, tenantry_image, command, "--help")


def test_the_process_modules_import_without_dev_extras(
    deploy_docker: str, tenantry_image: str
) -> None:
    # What `tenantry api` and `tenantry worker` load before they read settings.
    code = "import api.app, worker.main, worker.registry, db.migrate, tenantry.agents.edge"
    run(deploy_docker, tenantry_image, "-c", code, entrypoint="python3")
    assert "pytest" not in run(
        deploy_docker, tenantry_image, "-m", "pip", "list", "--format=freeze", entrypoint="python3"
    )


def test_runs_as_an_unprivileged_user_with_a_healthcheck(
    deploy_docker: str, tenantry_image: str
) -> None:
    uid = run(deploy_docker, tenantry_image, "-c", "import os; print(os.getuid())",
              entrypoint="python3")  # fmt: skip
    assert uid.strip() == "10001"
    config = json.loads(docker_cli(deploy_docker, "image", "inspect", tenantry_image))[0]["Config"]
    assert config["User"] == "tenantry"
    assert config["Entrypoint"] == ["tenantry"]
    assert "/healthz" in " ".join(config["Healthcheck"]["Test"])


def test_the_runtime_stage_holds_no_sources_or_wheels(
    deploy_docker: str, tenantry_image: str
) -> None:
    script = (
        "for p in /src /wheelhouse /opt/tenantry-app/bin/tenantry; do [ -e $p ] && echo $p; done"
    )
    found = run(deploy_docker, tenantry_image, "-c", script, entrypoint="/bin/sh")
    assert found.split() == ["/opt/tenantry-app/bin/tenantry"]
