"""The pod host install: `tenantry hosts cloud-init` and the script it carries.

What can be checked without a cloud: the cloud-config passes cloud-init's own schema
check, the script run (offline: no package, no service) in a container of a fresh
Debian 12 writes what a pod host needs with the right modes, and the systemd unit it
writes passes `systemd-analyze verify`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from devstack.docker import DockerDaemon
from tenantry.agents.host.install import INPUT_PATH, SCRIPT_PATH, cloud_config

TENANTRY = Path(sys.executable).with_name("tenantry")
REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tenantry" / "agents" / "host" / "pod-host-install.sh"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHb7dMDtZ5bUJuhh3m4C0Hq0XCqCrLYc1VAWmIbsWW7m cp"
TOKEN = "tntj_" + "x" * 43
DEBIAN_IMAGE = "local/tenantry-test-debian:bookworm"


def cli_cloud_init(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    key = tmp_path / "id.pub"
    key.write_text(KEY + "\n")
    argv = [str(TENANTRY), "hosts", "cloud-init", "--join-token", TOKEN]
    argv += ["--api-url", "https://api.example.com", "--ssh-public-key", str(key), *extra]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_the_cloud_config_passes_cloud_inits_schema_and_carries_the_script(
    tmp_path: Path,
) -> None:
    result = cli_cloud_init(tmp_path, "--address", "203.0.113.7")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("#cloud-config\n")
    document = yaml.safe_load(result.stdout)
    files = {f["path"]: f for f in document["write_files"]}
    assert files[SCRIPT_PATH]["content"] == SCRIPT.read_text()
    assert files[SCRIPT_PATH]["permissions"] == "0700"
    assert files[INPUT_PATH]["permissions"] == "0600"
    assert f"TENANTRY_HOST_JOIN_TOKEN='{TOKEN}'" in files[INPUT_PATH]["content"]
    assert "TENANTRY_HOST_ADDRESS='203.0.113.7'" in files[INPUT_PATH]["content"]

    cloud_init = shutil.which("cloud-init")
    if cloud_init is None:
        pytest.skip("cloud-init is not installed (apt-get install cloud-init)")
    config = tmp_path / "user-data"
    config.write_text(result.stdout)
    checked = subprocess.run(
        [cloud_init, "schema", "--config-file", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Valid cloud-config" in checked.stdout

    # A broken document fails the same check: the check itself is not a no-op.
    config.write_text(result.stdout.replace("write_files:", "write_files: 7\nx_files:"))
    bad = subprocess.run(
        [cloud_init, "schema", "--config-file", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode != 0


def test_input_that_would_break_the_env_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        cloud_config(api_url="https://a", join_token="x'; rm -rf /", ssh_public_key=KEY)
    with pytest.raises(ValueError):
        cloud_config(api_url="https://a", join_token=TOKEN, ssh_public_key="not a key")
    key = tmp_path / "id.pub"
    key.write_text("nonsense\n")
    argv = [str(TENANTRY), "hosts", "cloud-init", "--join-token", TOKEN]
    argv += ["--api-url", "https://a", "--ssh-public-key", str(key)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "OpenSSH" in result.stderr


@pytest.fixture(scope="session")
def debian_image(docker_daemon: DockerDaemon) -> Iterator[str]:
    """A fresh Debian 12 (minbase) image in the tests' daemon, built with mmdebstrap."""
    if shutil.which("mmdebstrap") is None:
        pytest.fail("mmdebstrap is missing (apt-get install mmdebstrap)")
    docker = ["docker", "-H", docker_daemon.host]
    listed = subprocess.run([*docker, "images", "-q", DEBIAN_IMAGE], capture_output=True, text=True)
    if not listed.stdout.strip():
        work = Path(tempfile.mkdtemp(prefix="tnt-debian-"))
        try:
            tarball = work / "rootfs.tar"
            subprocess.run(
                ["mmdebstrap", "--quiet", "--variant=minbase", "bookworm", str(tarball)],
                check=True,
                capture_output=True,
                timeout=600,
            )
            subprocess.run(
                [*docker, "import", str(tarball), DEBIAN_IMAGE], check=True, capture_output=True
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)
    yield DEBIAN_IMAGE


def test_the_script_turns_a_fresh_debian_into_a_pod_host_config(
    docker_daemon: DockerDaemon, debian_image: str, tmp_path: Path
) -> None:
    """Run offline in a fresh Debian 12 container (no network for apt there): every file a
    pod host needs, with secrets private, and the unit valid for systemd."""
    out = tmp_path / "out"
    out.mkdir()
    run = ["docker", "-H", docker_daemon.host, "run", "--rm", "--network", "none"]
    run += ["-v", f"{SCRIPT}:/install.sh:ro", "-v", f"{out}:/out"]
    run += ["-e", "TENANTRY_INSTALL_OFFLINE=1", "-e", "TENANTRY_API_URL=https://api.example.com"]
    run += [
        "-e",
        f"TENANTRY_HOST_JOIN_TOKEN={TOKEN}",
        "-e",
        f"TENANTRY_CONTROL_PLANE_SSH_KEY={KEY}",
    ]
    run += ["-e", "TENANTRY_HOST_ADDRESS=203.0.113.7", debian_image]
    # The script writes to / as on a real host; the listing and files are copied out.
    inner = "sh /install.sh && cd / && stat -c '%a %n' " + " ".join(
        [
            "etc/docker/daemon.json",
            "etc/ssh/tenantry_authorized_keys",
            "etc/ssh/sshd_config.d/10-tenantry.conf",
            "etc/tenantry/host-agent.env",
            "var/lib/tenantry",
            "etc/systemd/system/tenantry-host-agent.service",
        ]
    )
    inner += " > /out/modes && tar -c etc/docker etc/ssh/sshd_config.d etc/tenantry"
    inner += " etc/ssh/tenantry_authorized_keys etc/systemd/system | tar -x -C /out"
    result = subprocess.run(
        [*run, "sh", "-c", inner], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "done: host address 203.0.113.7" in result.stdout

    modes = dict(line.split(" ", 1)[::-1] for line in (out / "modes").read_text().splitlines())
    assert modes["etc/tenantry/host-agent.env"] == "600"
    assert modes["var/lib/tenantry"] == "700"
    daemon = json.loads((out / "etc/docker/daemon.json").read_text())
    assert daemon["runtimes"]["runsc"] == {
        "path": "/usr/bin/runsc",
        "runtimeArgs": ["--network=host"],
    }
    assert (out / "etc/ssh/tenantry_authorized_keys").read_text() == KEY + "\n"
    sshd = (out / "etc/ssh/sshd_config.d/10-tenantry.conf").read_text()
    assert "AuthorizedKeysFile /etc/ssh/tenantry_authorized_keys" in sshd
    assert "PasswordAuthentication no" in sshd
    env = (out / "etc/tenantry/host-agent.env").read_text().splitlines()
    assert f"TENANTRY_HOST_JOIN_TOKEN={TOKEN}" in env
    assert "TENANTRY_HOST_ADDRESS=203.0.113.7" in env
    assert "TENANTRY_API_URL=https://api.example.com" in env

    unit = out / "etc/systemd/system/tenantry-host-agent.service"
    assert "EnvironmentFile=/etc/tenantry/host-agent.env" in unit.read_text()
    verify_unit(unit, tmp_path / "root")


def verify_unit(unit: Path, root: Path) -> None:
    """`systemd-analyze verify` on the unit under a temp root holding the system's targets,
    the units it requires and its ExecStart (verify refuses a missing command)."""
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing (apt-get install systemd)")
    targets = root / "usr/lib/systemd/system"
    targets.mkdir(parents=True)
    for target in Path("/lib/systemd/system").glob("*.target"):
        shutil.copy(target, targets / target.name)
    system = root / "etc/systemd/system"
    system.mkdir(parents=True)
    shutil.copy(unit, system / unit.name)
    for name in ("docker.service", "ssh.service"):
        (system / name).write_text("[Service]\nExecStart=/bin/true\n")
    agent = root / "opt/tenantry/bin/tenantry"
    agent.parent.mkdir(parents=True)
    agent.write_text("#!/bin/sh\n")
    agent.chmod(0o755)
    checked = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", f"/etc/systemd/system/{unit.name}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
