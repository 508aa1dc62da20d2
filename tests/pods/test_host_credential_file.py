"""The host agent's credential file: written 0600 in a 0700 directory, refused when open."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tenantry.agents.host.credential import (
    CredentialError,
    HostCredential,
    load_credential,
    save_credential,
)

TENANTRY = Path(sys.executable).with_name("tenantry")


def test_a_saved_credential_is_private_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "state" / "credential.json"
    assert load_credential(path) is None
    saved = HostCredential(host_id="h-1", credential="tnth_secret")
    save_credential(path, saved)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert load_credential(path) == saved
    assert "tnth_secret" not in repr(saved)
    # Rotated in place: still private, and no temporary file left behind.
    save_credential(path, HostCredential(host_id="h-1", credential="tnth_new"))
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["credential.json"]


def test_a_credential_readable_by_others_or_broken_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "credential.json"
    save_credential(path, HostCredential(host_id="h-1", credential="tnth_secret"))
    path.chmod(0o644)
    with pytest.raises(CredentialError, match="readable by others") as refused:
        load_credential(path)
    assert "tnth_secret" not in str(refused.value)
    path.chmod(0o600)
    path.write_text("{not json")
    with pytest.raises(CredentialError, match="not usable"):
        load_credential(path)


def test_an_agent_with_neither_credential_nor_join_token_exits_2(tmp_path: Path) -> None:
    key = tmp_path / "host_key.pub"
    key.write_text(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHb7dMDtZ5bUJuhh3m4C0Hq0XCqCrLYc1VAWmIbsWW7m\n"
    )
    result = subprocess.run(
        [str(TENANTRY), "host-agent", "--api-url", "http://127.0.0.1:9", "--name", "lone"],
        env={
            # A bare environment; what is tested is the missing join token, not the firewall.
            "TENANTRY_POD_FIREWALL": "off",
            "TENANTRY_HOST_ADDRESS": "127.0.0.1",
            "TENANTRY_HOST_KEY_FILE": str(key),
            "TENANTRY_HOST_CREDENTIAL_FILE": str(tmp_path / "none.json"),
            "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no join token" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
