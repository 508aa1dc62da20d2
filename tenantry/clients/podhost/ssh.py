"""SSH to pod hosts: our key, pinned host keys, and commands whose failures are typed.

Host keys are always checked against the pinned ``known_hosts`` (a file, or its lines):
a pod host holds customer data, and trust on first use would let anyone on the path
impersonate it. One connection per operation keeps retries simple (a dropped host just
fails the attempt; the next attempt connects afresh) at ~40 ms per connect.
"""

from __future__ import annotations

import contextlib
import getpass
import shlex
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from tenantry.clients.podhost.errors import (
    ContainerNotFound,
    PodHostError,
    RemoteCommandFailed,
    translate,
)
from tenantry.contracts.podhost import PodHostRef

# Snapshots stream hundreds of MB through asyncssh, which decrypts every packet in
# Python: AES-GCM is one OpenSSL call per packet (AES-NI), ChaCha20-Poly1305 (asyncssh's
# first choice) several, and measured ~30% slower per byte. Both are AEAD; ChaCha20 stays
# for hosts without AES-GCM.
ENCRYPTION_ALGS = (
    "aes256-gcm@openssh.com",
    "aes128-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes256-ctr",
    "aes192-ctr",
    "aes128-ctr",
)


@dataclass(frozen=True)
class CommandResult:
    exit_status: int
    stdout: bytes
    stderr: str


def known_hosts_line(address: str, port: int, public_key: str) -> str:
    """A known_hosts line; OpenSSH writes non-default ports as ``[addr]:port``."""
    key_type, key_data = public_key.split()[:2]
    name = address if port == 22 else f"[{address}]:{port}"
    return f"{name} {key_type} {key_data}"


def bash(script: str) -> str:
    """A remote command line running ``script`` under bash with pipefail.

    A pipeline such as ``docker cp ... | zstd`` must fail when its first stage fails;
    POSIX sh (dash) has no pipefail, so pipelines name bash explicitly.
    """
    return shlex.join(["bash", "-o", "pipefail", "-c", script])


def is_missing(stderr: str) -> bool:
    """Whether docker said the container/volume/object does not exist (wording varies)."""
    return "no such" in stderr.lower()


def docker_error(stderr: str, what: str) -> PodHostError:
    """Maps a failed ``docker`` command's stderr to our error types."""
    if is_missing(stderr):
        return ContainerNotFound(f"{what}: {stderr.strip()}")
    return RemoteCommandFailed(f"{what}: {stderr.strip()}")


class SshConnector:
    """Opens pinned, key-authenticated SSH connections to pod hosts."""

    def __init__(
        self,
        key_path: Path,
        known_hosts: Path | Sequence[str],
        *,
        user: str | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        self._key_path = key_path
        if isinstance(known_hosts, Path):
            self._known_hosts: str | asyncssh.SSHKnownHosts = str(known_hosts)
        else:
            self._known_hosts = asyncssh.import_known_hosts("\n".join(known_hosts) + "\n")
        self._user = user or getpass.getuser()
        self._connect_timeout = connect_timeout

    @asynccontextmanager
    async def connect(self, host: PodHostRef) -> AsyncIterator[asyncssh.SSHClientConnection]:
        where = f"{host.name} ({host.address}:{host.port})"
        with translate(where):
            async with asyncssh.connect(
                host.address,
                host.port,
                username=self._user,
                client_keys=[str(self._key_path)],
                known_hosts=self._known_hosts,
                connect_timeout=self._connect_timeout,
                keepalive_interval=15,
                encryption_algs=ENCRYPTION_ALGS,
                agent_path=None,
                config=None,
            ) as conn:
                yield conn

    async def run(
        self,
        conn: asyncssh.SSHClientConnection,
        argv: Sequence[str] | str,
        *,
        check: bool = True,
        time_limit: float = 120.0,
    ) -> CommandResult:
        """Runs a command (argv is quoted; a str is taken as a shell line) and collects output."""
        command = argv if isinstance(argv, str) else shlex.join(argv)
        with translate(f"{conn.get_extra_info('peername')}: {command[:60]}"):
            result = await conn.run(command, encoding=None, check=False, timeout=time_limit)
        stderr = (
            (result.stderr or b"").decode(errors="replace")
            if isinstance(result.stderr, bytes)
            else str(result.stderr or "")
        )
        stdout = result.stdout if isinstance(result.stdout, bytes) else b""
        status = result.exit_status if result.exit_status is not None else -1
        if check and status != 0:
            raise docker_error(stderr, command.split(" ", 3)[1] if " " in command else command)
        return CommandResult(status, stdout, stderr)

    @asynccontextmanager
    async def private_file(
        self, conn: asyncssh.SSHClientConnection, content: bytes, prefix: str
    ) -> AsyncIterator[str]:
        """A fresh 0600 file under /tmp on the host, written over SFTP, removed on exit.

        The mode is set at creation, so the file is never readable by others, and its
        content never appears in a command line (``ps``) or a shell history.
        """
        path = f"/tmp/{prefix}-{uuid.uuid4().hex}"
        with translate(f"sftp {path}"):
            async with conn.start_sftp_client() as sftp:
                attrs = asyncssh.SFTPAttrs(permissions=0o600)
                try:
                    async with sftp.open(path, "wb", attrs) as f:
                        await f.write(content)
                    yield path
                finally:
                    # If the host went away, the 0600 file stays in its /tmp.
                    with contextlib.suppress(asyncssh.Error, OSError):
                        await sftp.remove(path)
