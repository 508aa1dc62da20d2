"""The local pod-host parts on their own: daemon adoption, the base image, sshd hosts."""

from __future__ import annotations

import json
import subprocess

import pytest

from devstack.docker import DockerDaemon, docker_answers, ensure_docker
from devstack.images import POD_BASE_IMAGE, ensure_pod_base_image
from tests.fixtures.podhosts import PodHosts


def test_an_answering_daemon_is_adopted_and_never_stopped(
    docker_daemon: DockerDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    again = DockerDaemon(docker_daemon.state_dir, bridge=docker_daemon.bridge).start()
    assert again.process is None
    assert again.host == docker_daemon.host
    again.stop()
    assert docker_answers(docker_daemon.host)

    monkeypatch.setenv("DOCKER_HOST", docker_daemon.host)
    host, started = ensure_docker(docker_daemon.state_dir / "unused")
    assert (host, started) == (docker_daemon.host, None)


def test_base_image_is_built_once_and_has_a_shell_and_http(
    docker_daemon: DockerDaemon, pod_base_image: str
) -> None:
    def image_id() -> str:
        return subprocess.run(
            ["docker", "-H", docker_daemon.host, "image", "inspect", pod_base_image],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    before = json.loads(image_id())[0]
    assert ensure_pod_base_image(docker_daemon.host) == POD_BASE_IMAGE
    assert json.loads(image_id())[0]["Id"] == before["Id"]
    assert before["Config"]["Cmd"][1:3] == ["httpd", "-f"]
    assert "HOME=/workspace" in before["Config"]["Env"]
    listing = subprocess.run(
        [
            "docker",
            "-H",
            docker_daemon.host,
            "run",
            "--rm",
            pod_base_image,
            "sh",
            "-c",
            "ls -ld /bin/sh /usr/sbin/httpd /bin/tar /tmp && id -un",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "drwxrwxrwt" in listing  # /tmp is sticky and world-writable
    assert listing.strip().endswith("root")


def test_openssh_reaches_the_daemon_through_a_pinned_host(
    pod_hosts: PodHosts, docker_daemon: DockerDaemon
) -> None:
    """The stock ssh client with strict checking: the known_hosts we write is the real format."""
    pod_hosts.ensure_running()
    host = pod_hosts.hosts[1]
    line = host.host_key_line()
    assert line.startswith(f"{host.address} ssh-ed25519 ")
    answer = subprocess.run(
        [
            "ssh",
            "-i",
            str(pod_hosts.client_key),
            "-o",
            f"UserKnownHostsFile={pod_hosts.known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            f"{host.user}@{host.address}",
            "docker info --format '{{.DockerRootDir}}'",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() == str(docker_daemon.state_dir / "data")  # SetEnv DOCKER_HOST

    host.stop()
    host.start()
    assert host.host_key_line() == line  # generated once, kept across restarts
