"""A Docker daemon for the pod hosts: the developer's own, or a private one we start.

Pods run as Docker containers. `tenantry dev` uses whatever daemon already answers
(``DOCKER_HOST`` or ``/var/run/docker.sock``); when none does, it starts a private
``dockerd`` whose every path (data, exec root, pidfile, socket) lives under its state
directory, so it never touches a system daemon's state. The test fixtures always start a
private one in a temporary directory.

A private daemon gets its own Linux bridge instead of ``docker0`` and runs with
``--iptables=false``: two daemons on one machine (a developer's and the tests', or two
test sessions) would otherwise fight over the bridge and the shared ``DOCKER`` iptables
chains. Published ports then go through ``docker-proxy`` on loopback, which is all pods
need here; ``--ip 127.0.0.1`` keeps every published port off the network.

A private daemon also registers gVisor's ``runsc`` (the default pod runtime) in its own
config file, with ``--network=host`` so gVisor uses the network namespace Docker made
(Docker networks still apply; gVisor's own stack refuses to start here). Its
user-defined networks (one per account, for pods) take /24s out of
``NETWORK_POOL``, which Docker skips where a route already exists. Isolation between
those networks is not Docker's iptables (off here) but the host agent's firewall
(``tenantry.agents.host.network``), which matches only on the pod bridges' prefix.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from devstack.procs import ManagedProcess, StackError

if TYPE_CHECKING:
    from devstack.dev import DevPart

SYSTEM_SOCKET = Path("/var/run/docker.sock")
DOCKERD = "/usr/sbin/dockerd"
# Private bridges take a /24 out of this range; docker0's 172.17/16 stays clear.
BRIDGE_SUPERNET = ipaddress.IPv4Network("172.30.0.0/16")
NETWORK_POOL = ipaddress.IPv4Network("10.88.0.0/14")
RUNSC = Path("/usr/bin/runsc")


def daemon_config() -> dict[str, object]:
    """The private daemon's config file: runsc if installed, and the network pool."""
    config: dict[str, object] = {
        "default-address-pools": [{"base": str(NETWORK_POOL), "size": 24}],
    }
    if RUNSC.exists():
        config["runtimes"] = {"runsc": {"path": str(RUNSC), "runtimeArgs": ["--network=host"]}}
    return config


def docker_answers(host: str, timeout: float = 5.0) -> bool:
    """True if ``docker -H host info`` succeeds: the daemon is up and accepts requests."""
    try:
        result = subprocess.run(
            ["docker", "-H", host, "info", "--format", "{{.ID}}"],
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def docker_cli(host: str, *args: str, input: bytes | None = None, timeout: float = 60.0) -> str:
    """Runs one ``docker`` command against ``host``; a failure is a StackError with stderr."""
    try:
        result = subprocess.run(
            ["docker", "-H", host, *args],
            input=input,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise StackError("the docker CLI is not installed (Debian: docker.io)") from exc
    if result.returncode != 0:
        raise StackError(f"docker {' '.join(args[:2])} failed: {result.stderr.decode().strip()}")
    return result.stdout.decode()


def _used_ipv4_networks() -> list[ipaddress.IPv4Network]:
    out = subprocess.run(
        ["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=False
    ).stdout
    nets = []
    for line in out.splitlines():
        parts = line.split()
        if "inet" in parts:
            cidr = parts[parts.index("inet") + 1]
            nets.append(ipaddress.IPv4Interface(cidr).network)
    return nets


def free_bridge_subnet() -> ipaddress.IPv4Network:
    """A /24 of 172.30/16 that no interface on this machine uses yet."""
    used = _used_ipv4_networks()
    for net in BRIDGE_SUPERNET.subnets(new_prefix=24):
        if not any(net.overlaps(u) for u in used):
            return net
    raise StackError(f"no free /24 left in {BRIDGE_SUPERNET} for a docker bridge")


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise StackError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")


def _link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


@dataclass
class DockerDaemon:
    """A private ``dockerd`` whose state lives in ``state_dir``.

    ``bridge`` names the Linux bridge its containers attach to (at most 15 characters);
    it is created on start if missing and removed on stop, so stopped stacks leave no
    interfaces behind.
    """

    state_dir: Path
    bridge: str = "tnt-dev0"
    ready_timeout: float = 30.0
    process: ManagedProcess | None = field(default=None, repr=False)
    _made_bridge: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        self.state_dir = self.state_dir.absolute()
        if len(self.bridge) > 15:
            raise StackError(f"bridge name {self.bridge!r} is longer than 15 characters")

    @property
    def socket(self) -> Path:
        return self.state_dir / "docker.sock"

    @property
    def host(self) -> str:
        """The ``DOCKER_HOST`` url of this daemon."""
        return f"unix://{self.socket}"

    @property
    def exec_root(self) -> Path:
        return self.state_dir / "run"

    @property
    def pidfile(self) -> Path:
        return self.state_dir / "dockerd.pid"

    def start(self) -> DockerDaemon:
        """Starts the daemon, or adopts it when a previous run left it answering."""
        if docker_answers(self.host):
            return self
        if not Path(DOCKERD).exists():
            raise StackError(f"{DOCKERD} is missing: install Debian's docker.io")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        config_file = self.state_dir / "daemon.json"
        config_file.write_text(json.dumps(daemon_config(), indent=2))
        self._ensure_bridge()
        self.process = ManagedProcess(
            name=f"dockerd ({self.state_dir})",
            argv=[
                DOCKERD,
                "--data-root",
                str(self.state_dir / "data"),
                "--exec-root",
                str(self.exec_root),
                "--pidfile",
                str(self.pidfile),
                "-H",
                self.host,
                "--ip",
                "127.0.0.1",
                "--bridge",
                self.bridge,
                "--iptables=false",
                "--shutdown-timeout",
                "3",
                "--config-file",
                str(config_file),
            ],
            log_path=self.state_dir / "dockerd.log",
            ready=lambda: docker_answers(self.host, timeout=2.0),
            ready_timeout=self.ready_timeout,
            stop_timeout=20.0,
        )
        try:
            self.process.start()
        except StackError:
            self._remove_bridge()
            raise
        return self

    def _ensure_bridge(self) -> None:
        if _link_exists(self.bridge):
            return
        subnet = free_bridge_subnet()
        _ip("link", "add", "name", self.bridge, "type", "bridge")
        self._made_bridge = True
        _ip("addr", "add", f"{subnet[1]}/{subnet.prefixlen}", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")

    def _remove_bridge(self) -> None:
        if self._made_bridge and _link_exists(self.bridge):
            with contextlib.suppress(StackError):
                _ip("link", "del", self.bridge)
        self._made_bridge = False

    def stop(self, *, remove_containers: bool = False) -> None:
        """Stops the daemon we started (an adopted one is left alone).

        dockerd gets SIGTERM alone first, so it stops its containers through containerd
        before containerd goes; signalling the whole group at once would orphan the
        containerd shims and leave container mounts behind.
        """
        if self.process is None or self.process.proc is None:
            return
        if remove_containers and self.process.running:
            with contextlib.suppress(StackError, subprocess.TimeoutExpired):
                self.remove_containers()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.proc.wait(self.process.stop_timeout)
        self.process.stop()
        self._kill_orphan_shims()
        self._remove_bridge()
        self.process = None

    def remove_containers(self) -> None:
        """Removes every container, then every user-defined network (pods' per-account
        networks): a stopped daemon would leave their bridges on the machine."""
        ids = docker_cli(self.host, "ps", "-aq", timeout=10).split()
        if ids:
            docker_cli(self.host, "rm", "-f", *ids, timeout=30)
        docker_cli(self.host, "network", "prune", "-f", timeout=30)

    def _kill_orphan_shims(self) -> None:
        """SIGKILLs containerd shims bound to our exec root (only after a hard crash)."""
        marker = str(self.exec_root).encode()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if b"containerd-shim" in cmdline and marker in cmdline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(proc.name), signal.SIGKILL)
        time.sleep(0.1)


def ensure_docker(state_dir: Path, bridge: str = "tnt-dev0") -> tuple[str, DockerDaemon | None]:
    """The DOCKER_HOST for pods: the one that answers, else a private daemon we start.

    Returns the url and the daemon to stop later (``None`` when we adopted someone
    else's, which we must never stop).
    """
    candidates = [os.environ.get("DOCKER_HOST", ""), f"unix://{SYSTEM_SOCKET}"]
    for host in filter(None, candidates):
        if docker_answers(host):
            return host, None
    daemon = DockerDaemon(state_dir, bridge=bridge).start()
    return daemon.host, daemon


DOCKER_HOST_ENV = "TENANTRY_DEV_DOCKER_HOST"


def dev_parts() -> list[DevPart]:
    """`tenantry dev`: a Docker daemon for the pod hosts, with the pod base image in it."""
    from devstack.dev import DevContext, DevPart

    def start(ctx: DevContext) -> DockerDaemon | None:
        host, daemon = ensure_docker(ctx.state_dir / "docker", ctx.settings.docker_bridge)
        if daemon is not None and daemon.process is not None:
            ctx.watched[daemon.process.name] = daemon.process
        from devstack.images import ensure_pod_base_image

        image = ensure_pod_base_image(host)
        # The pod hosts part reads it; the API and worker never talk to Docker directly.
        ctx.env[DOCKER_HOST_ENV] = host
        # Workspace images under the stack's state; runc only when the daemon we adopted
        # has no runsc, chosen explicitly here, as production would have to.
        if "TENANTRY_POD_WORKSPACE_ROOT" not in os.environ:
            ctx.env["TENANTRY_POD_WORKSPACE_ROOT"] = str(ctx.state_dir / "workspaces")
        runtimes = docker_cli(host, "info", "--format", "{{json .Runtimes}}")
        if "runsc" not in runtimes and "TENANTRY_POD_RUNTIME" not in os.environ:
            ctx.env["TENANTRY_POD_RUNTIME"] = "runc"
            ctx.urls.append(("docker (pods)", "no runsc in this daemon: pods run under runc"))
        ctx.urls.append(("docker (pods)", f"{host}  image {image}"))
        return daemon

    return [DevPart(name="docker", label="Docker (pods)", start=start)]
