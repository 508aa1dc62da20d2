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
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from devstack.procs import ManagedProcess, StackError, tcp_ready
from tenantry.clients.podhost.ssh import known_hosts_line

if TYPE_CHECKING:
    from devstack.dev import DevPart

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


def _descendants(pid: int) -> list[int]:
    """Child processes of ``pid``, recursively (from /proc/<pid>/task/*/children)."""
    found: list[int] = []
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except OSError:
            continue  # it exited while we looked: nothing of it is left to collect
        for task in tasks:
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
        public = self.host_key_path.with_name(self.host_key_path.name + ".pub").read_text()
        return known_hosts_line(self.address, self.port, public)

    @property
    def home(self) -> Path:
        return self.host_dir / "home"

    def _write_config(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
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
                    # A home of the host's own: the shell sshd runs every command with
                    # sources ~/.bashrc, and the developer's (pyenv hooks, locks) must
                    # not run, or stall, on each command sent to a pod host.
                    f"SetEnv DOCKER_HOST={self.docker_host} HOME={self.home}",
                    "",
                ]
            )
        )
        return config

    def start(self) -> PodHost:
        if not Path(SSHD).exists():
            raise StackError(f"{SSHD} is missing: install Debian's openssh-server")
        config = self._write_config()
        self._stop_orphan(config)
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

    def _stop_orphan(self, config: Path) -> None:
        """Stops an sshd a killed earlier run left on our address (its pidfile, our config).

        It runs in its own session, so it outlives a SIGKILLed `tenantry dev` and would
        hold the address; the pidfile and the config path on its command line prove it
        is ours and not some other sshd.
        """
        pidfile = self.host_dir / "sshd.pid"
        try:
            pid = int(pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        if str(config).encode() not in cmdline:
            return
        for victim in [*_descendants(pid), pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.02)

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
    """Pins every host's key in ``path`` (the control plane's ``ssh_known_hosts_path``).

    Lines for other hosts (tenant servers, say) are kept; ours replace any earlier line
    for the same address, so a regenerated host key never leaves a stale pin behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    ours = {h.host_key_line().split()[0] for h in hosts}
    kept = []
    if path.exists():
        kept = [
            ln for ln in path.read_text().splitlines() if ln.split()[:1] not in ([n] for n in ours)
        ]
    path.write_text("".join(line + "\n" for line in [*kept, *(h.host_key_line() for h in hosts)]))
    path.chmod(0o600)
    return path


class PodHostGroup:
    """The dev stack's pod hosts, stopped together."""

    def __init__(self, hosts: list[PodHost]) -> None:
        self.hosts = hosts

    def stop(self) -> None:
        for host in reversed(self.hosts):
            host.stop()


class HostAgents:
    """The `tenantry host-agent` processes of the dev stack's pod hosts, stopped together."""

    def __init__(self) -> None:
        self.processes: list[ManagedProcess] = []

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def _logged_since(path: Path, offset: int, text: str) -> Callable[[], bool]:
    """True once ``text`` is in ``path`` past ``offset`` (earlier runs' lines do not count)."""

    def probe() -> bool:
        try:
            with path.open("rb") as f:
                f.seek(offset)
                return text.encode() in f.read()
        except OSError:
            return False

    return probe


def _either(*probes: Callable[[], bool]) -> Callable[[], bool]:
    return lambda: any(probe() for probe in probes)


def mint_join_token(api_url: str, admin_token: str) -> str:
    """A pre-approved single-use join token from the running API, as an admin mints one."""
    response = httpx.post(
        f"{api_url}/v1/admin/hosts/join-tokens",
        json={"ttl": 600, "approved": True},
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=30,
    )
    if response.status_code != 201:
        raise StackError(f"cannot mint a host join token: HTTP {response.status_code}")
    return str(response.json()["token"])


def dev_parts() -> list[DevPart]:
    """`tenantry dev`: two pod hosts on 127.0.10.1 and 127.0.10.2 (``TENANTRY_DEV_POD_HOST_NETWORK``
    moves them), pinned in known_hosts, and a host agent for each once the API is up, as on
    a real pod host: each joins with a pre-approved join token minted then, and keeps its
    credential under the state directory, so a second run reports with it."""
    from devstack.dev import DevContext, DevPart, tenantry_argv

    groups: list[PodHostGroup] = []

    def start(ctx: DevContext) -> PodHostGroup:
        docker_host = ctx.env.get("TENANTRY_DEV_DOCKER_HOST")
        if not docker_host:
            raise StackError("pod hosts need the docker part (TENANTRY_DEV_DOCKER_HOST unset)")
        key = Path(ctx.env["TENANTRY_SSH_KEY_PATH"])
        public = key.with_name(key.name + ".pub").read_text()
        hosts = start_pod_hosts(
            ctx.state_dir,
            2,
            authorized_key=public,
            docker_host=docker_host,
            network=f"{ctx.settings.pod_host_network}.",
        )
        group = PodHostGroup(hosts)
        for host in hosts:
            if host.process is not None:
                ctx.watched[host.process.name] = host.process
            ctx.urls.append(
                (f"pod host {host.name}", f"ssh://{host.user}@{host.address}:{host.port}")
            )
        write_known_hosts(Path(ctx.env["TENANTRY_SSH_KNOWN_HOSTS_PATH"]), hosts)
        groups.append(group)
        return group

    def start_agents(ctx: DevContext) -> HostAgents:
        agents = HostAgents()
        api_url = f"http://{ctx.host}:{ctx.settings.api_port}"
        for host in groups[-1].hosts if groups else []:
            name = f"host-agent-{host.name}"
            log_path = ctx.settings.log_path(name)
            argv = tenantry_argv("host-agent", "--api-url", api_url, "--name", host.name)
            argv += ["--address", host.address, "--ssh-port", str(host.port)]
            argv += ["--host-key-file", f"{host.host_key_path}.pub"]
            credential = ctx.state_dir / "host-credentials" / f"{host.name}.json"
            env = {
                "DOCKER_HOST": host.docker_host,
                "TENANTRY_HOST_CREDENTIAL_FILE": str(credential),
                # The dev daemon runs with --iptables=false: the pod firewall hooks FORWARD.
                "TENANTRY_POD_FIREWALL": "forward",
            }
            if not credential.exists():
                env["TENANTRY_HOST_JOIN_TOKEN"] = mint_join_token(
                    api_url, ctx.env["TENANTRY_ADMIN_TOKEN"]
                )
            process = ctx.process(name, argv, ready=None, env=env)
            offset = log_path.stat().st_size
            registered = _logged_since(log_path, offset, "registered host")
            resumed = _logged_since(log_path, offset, "with its saved credential")
            process.ready = _either(registered, resumed)
            agents.processes.append(ctx.spawn(process))
            ctx.urls.append((f"host agent {host.name}", f"-> {api_url}, log {log_path}"))
        return agents

    def no_agents(ctx: DevContext) -> str | None:
        absent = {"podhosts", "api"} & ctx.settings.skipped_parts
        return f"{', '.join(sorted(absent))} not started (TENANTRY_DEV_SKIP)" if absent else None

    return [
        DevPart(name="podhosts", label="Pod hosts (sshd)", start=start),
        DevPart(
            name="hostagents",
            label="Host agents",
            start=start_agents,
            skip=no_agents,
            after_app=True,
        ),
    ]
