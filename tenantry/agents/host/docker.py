"""The pod host's Docker, read through its Engine API: which pods run here, their limits,
and who is in them.

A pod is a container labelled ``tenantry.pod=<pod id>`` (the control plane creates it so).
The agent runs on the pod host itself, next to the daemon, and reads two things Docker
and the kernel already keep, so that reporting costs a few local requests:

- **exec sessions**: running exec instances of the pod's container (``docker exec`` into
  the pod, which is how a user's SSH login to the host reaches a pod). Docker drops an
  exec from the container's ``ExecIDs`` once it ends; each remaining one is asked
  whether it still runs.
- **connections to the pod's SSH service**: established TCP connections, in the pod's own
  network namespace (``/proc/<pod pid>/net/tcp{,6}``), to the port of a service named
  ``ssh``. Other services are HTTP and reach the pod through the edge proxy, which
  reports its own traffic; counting their connections here would let an idle keep-alive
  connection of the proxy keep a pod up forever.

Hosts of one machine may share a daemon (the local stack does). A pod's ports are
published on the address of the host it was placed on, so a container belongs to this
host when its ports are published on our address; a container with no published port
at all is counted by every host that shares the daemon.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

LABEL_POD = "tenantry.pod"
LABEL_SERVICES = "tenantry.services"
SSH_SERVICE_NAMES = frozenset({"ssh"})
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
_TCP_ESTABLISHED = "01"


class DockerUnavailable(Exception):
    """The host's Docker did not answer, or answered with an error."""


@dataclass(frozen=True)
class PodOnHost:
    """One running pod container on this host, and what keeps it busy right now."""

    pod_id: str
    container_id: str
    cpu_millis: int
    memory_mb: int
    exec_sessions: int
    ssh_connections: int
    # ``address:port`` of each published port: what the edge is routed to. The API
    # refuses a heartbeat listing one off this host's registered address.
    upstreams: tuple[str, ...] = ()

    @property
    def in_session(self) -> bool:
        return self.exec_sessions > 0 or self.ssh_connections > 0


def engine_client(docker_host: str, timeout: float = 10.0) -> httpx.Client:
    """An HTTP client for the Engine API at ``unix:///path`` or ``tcp://host:port``."""
    url = urlsplit(docker_host)
    if url.scheme == "unix":
        transport = httpx.HTTPTransport(uds=url.path)
        return httpx.Client(transport=transport, base_url="http://docker", timeout=timeout)
    if url.scheme in ("tcp", "http"):
        return httpx.Client(base_url=f"http://{url.netloc}", timeout=timeout)
    raise ValueError(
        f"unsupported DOCKER_HOST {docker_host!r}: use unix:///path or tcp://host:port"
    )


class DockerEngine:
    """The few Engine API reads the agent needs."""

    def __init__(self, client: httpx.Client) -> None:
        self._http = client

    def close(self) -> None:
        self._http.close()

    def _get(self, path: str, **params: str) -> Any:
        try:
            response = self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise DockerUnavailable(f"docker: {exc}") from exc
        if response.status_code == 404:
            return None  # gone meanwhile (a container or exec that just ended)
        if not response.is_success:
            raise DockerUnavailable(f"docker: GET {path}: {response.status_code} {response.text}")
        return response.json()

    def pods(self, address: str) -> list[PodOnHost]:
        """The running pod containers of the host at ``address``."""
        filters = json.dumps({"label": [LABEL_POD], "status": ["running"]})
        listed = self._get("/containers/json", filters=filters) or []
        found = []
        for summary in listed:
            data = self._get(f"/containers/{summary['Id']}/json")
            if data is None or not _belongs_to(data, address):
                continue
            found.append(self._pod(data, address))
        return sorted(found, key=lambda p: p.pod_id)

    def _pod(self, data: dict[str, Any], address: str) -> PodOnHost:
        config = data.get("Config") or {}
        labels: dict[str, str] = config.get("Labels") or {}
        host_config = data.get("HostConfig") or {}
        nano_cpus = int(host_config.get("NanoCpus") or 0)
        memory = int(host_config.get("Memory") or 0)
        execs = 0
        for exec_id in data.get("ExecIDs") or []:
            info = self._get(f"/exec/{exec_id}/json")
            if info is not None and info.get("Running"):
                execs += 1
        pid = int((data.get("State") or {}).get("Pid") or 0)
        return PodOnHost(
            pod_id=labels[LABEL_POD],
            container_id=str(data["Id"]),
            cpu_millis=nano_cpus // 1_000_000,
            memory_mb=memory // (1024 * 1024),
            exec_sessions=execs,
            ssh_connections=established_connections(pid, ssh_ports(labels)) if pid else 0,
            upstreams=published_upstreams(data, address),
        )


def published_upstreams(data: dict[str, Any], address: str) -> tuple[str, ...]:
    """``ip:port`` of every published port; no HostIp means ``address``, as the control
    plane's client reads it."""
    bindings: dict[str, list[dict[str, str]] | None] = (data.get("NetworkSettings") or {}).get(
        "Ports"
    ) or {}
    found = set()
    for binds in bindings.values():
        for bind in binds or []:
            ip = bind.get("HostIp") or address
            host = f"[{ip}]" if ":" in ip else ip
            found.add(f"{host}:{bind.get('HostPort', '')}")
    return tuple(sorted(found))


def _belongs_to(data: dict[str, Any], address: str) -> bool:
    bindings: dict[str, list[dict[str, str]] | None] = (data.get("NetworkSettings") or {}).get(
        "Ports"
    ) or {}
    ips = {b.get("HostIp", "") for binds in bindings.values() for b in binds or []}
    return not ips or address in ips


def ssh_ports(labels: dict[str, str]) -> set[int]:
    """Container ports of the pod's services named ``ssh`` (label ``name:port,...``)."""
    ports = set()
    for item in filter(None, labels.get(LABEL_SERVICES, "").split(",")):
        name, _, port = item.partition(":")
        if name in SSH_SERVICE_NAMES and port.isdigit():
            ports.add(int(port))
    return ports


def established_connections(pid: int, ports: set[int], proc: Path = Path("/proc")) -> int:
    """Established TCP connections to ``ports`` in the network namespace of ``pid``."""
    if not ports:
        return 0
    count = 0
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / str(pid) / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue  # the pod stopped meanwhile, or no IPv6
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or fields[3] != _TCP_ESTABLISHED:
                continue
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port in ports:
                count += 1
    return count
