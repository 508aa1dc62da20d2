"""Pod hosts for the local stack: one real OpenSSH ``sshd`` per host, on its own loopback address.

The control plane reaches a pod host exactly as in production: SSH with its own key to
a host whose key it pins, then ``docker`` commands there. Each host has its own ed25519
host key, generated once and kept under ``<state>/hosts/<name>/`` so a restarted
`tenantry dev` keeps the same ``known_hosts`` lines. ``SetEnv DOCKER_HOST=...`` points
the host's ``docker`` at the daemon that runs its pods. The hosts of one machine share
that daemon; the product keeps a pod on one host at a time, so this is invisible to it.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from devstack.procs import ManagedProcess, StackError, tcp_ready

SSHD = "/usr/sbin/sshd"
DEV_HOST_NETWORK = "127.0.10."


def generate_keypair(path: Path, comment: str) -> Path:
    """An ed25519 key at ``path`` (and ``path.pub``), generated only if absent."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                check=True,
                capture_output=True,
            )
        except FileNotFoundError as exc:
            raise StackError("ssh-keygen is missing: install Debian's openssh-client") from exc
    return path


def known_hosts_line(address: str, port: int, public_key: str) -> str:
    """A known_hosts line; OpenSSH writes non-default ports as ``[addr]:port``."""
    key_type, key_data = public_key.split()[:2]
    name = address if port == 22 else f"[{address}]:{port}"
    return f"{name} {key_type} {key_data}"


def _descendants(pid: int) -> list[int]:
    """Child processes of ``pid``, recursively (from /proc/<pid>/task/*/children)."""
    found: list[int] = []
    stack = [pid]
    while stack:
        current = stack.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):
                children = [int(c) for c in (task / "children").read_text().split()]
                found.extend(children)
                stack.extend(children)
    return found


@dataclass
class PodHost:
    """One pod host: ``sshd`` on ``address:port`` letting ``authorized_key`` in as us."""

    name: str
    address: str
    state_dir: Path
    authorized_key: str
    docker_host: str
    port: int = 22
    process: ManagedProcess | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.state_dir = self.state_dir.absolute()

    @property
    def host_dir(self) -> Path:
        return self.state_dir / "hosts" / self.name

    @property
    def host_key_path(self) -> Path:
        return self.host_dir / "ssh_host_ed25519_key"

    @property
    def user(self) -> str:
        """The login user: whoever runs the stack (root on the dev machines)."""
        return getpass.getuser()

    def host_key_line(self) -> str:
        """This host's line for the control plane's pinned ``known_hosts``."""
        public = (self.host_key_path.with_suffix(".pub")).read_text()
        return known_hosts_line(self.address, self.port, public)

    def _write_config(self) -> Path:
        self.host_dir.mkdir(parents=True, exist_ok=True)
        generate_keypair(self.host_key_path, f"tenantry-pod-host-{self.name}")
        authorized = self.host_dir / "authorized_keys"
        authorized.write_text(self.authorized_key.strip() + "\n")
        authorized.chmod(0o600)
        config = self.host_dir / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"ListenAddress {self.address}:{self.port}",
                    f"HostKey {self.host_key_path}",
                    f"PidFile {self.host_dir / 'sshd.pid'}",
                    f"AuthorizedKeysFile {authorized}",
                    f"AllowUsers {self.user}",
                    "PermitRootLogin prohibit-password",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    # Our files are 0600 in directories we own, but test state lives under
                    # /tmp (mode 1777), which StrictModes rejects for AuthorizedKeysFile.
                    "StrictModes no",
                    "X11Forwarding no",
                    "AllowTcpForwarding no",
                    "PrintMotd no",
                    # Env files for pod secrets are written over SFTP.
                    "Subsystem sftp internal-sftp",
                    "MaxSessions 64",
                    "MaxStartups 64:30:128",
                    "ClientAliveInterval 15",
                    f"SetEnv DOCKER_HOST={self.docker_host}",
                    "",
                ]
            )
        )
        return config

    def start(self) -> PodHost:
        if not Path(SSHD).exists():
            raise StackError(f"{SSHD} is missing: install Debian's openssh-server")
        config = self._write_config()
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege separation dir
        self.process = ManagedProcess(
            name=f"sshd {self.name} ({self.address}:{self.port})",
            argv=[SSHD, "-D", "-e", "-f", str(config)],
            log_path=self.host_dir / "sshd.log",
            ready=tcp_ready(self.address, self.port),
            ready_timeout=10.0,
            stop_timeout=5.0,
        )
        self.process.start()
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.running

    def stop(self) -> None:
        """Stops the listener and every open session, as if the host went down.

        sshd gives each connection its own session, so signalling the listener's
        process group alone would leave established connections (and the commands they
        run) alive; their pids are collected from /proc before the listener goes.
        """
        if self.process is None or self.process.proc is None:
            return
        sessions = _descendants(self.process.proc.pid)
        self.process.stop()
        for pid in sessions:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process = None


def start_pod_hosts(
    state_dir: Path,
    count: int = 2,
    *,
    authorized_key: str,
    docker_host: str,
    network: str = DEV_HOST_NETWORK,
    first: int = 1,
    port: int = 22,
) -> list[PodHost]:
    """Starts ``count`` pod hosts ``host-1``... on ``<network><first>``, ``<network><first+1>``...

    `tenantry dev` uses 127.0.10.N; tests pass their own network so both can run at once.
    If one host fails to start, the ones already started are stopped again.
    """
    hosts: list[PodHost] = []
    try:
        for i in range(count):
            host = PodHost(
                name=f"host-{i + 1}",
                address=f"{network}{first + i}",
                state_dir=state_dir,
                authorized_key=authorized_key,
                docker_host=docker_host,
                port=port,
            )
            hosts.append(host.start())
    except BaseException:
        for host in hosts:
            host.stop()
        raise
    return hosts


def write_known_hosts(path: Path, hosts: list[PodHost]) -> Path:
    """Pins every host's key in ``path`` (the control plane's ``ssh_known_hosts_path``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(h.host_key_line() + "\n" for h in hosts))
    return path
