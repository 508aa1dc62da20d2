"""Pod containers on a pod host, driven with the ``docker`` CLI over SSH.

Every operation is idempotent because a pod's container and workspace volume are named
after the pod (``pod-<id>``, ``pod-<id>-workspace``): creating again adopts what is
there (and starts it), removing what is gone is a no-op. Labels (``tenantry.pod``,
``tenantry.account``) mark what we made, so we never adopt or delete a stranger's
container that merely has the name.

Strangers share hosts, so every pod is fenced in (``PodIsolation``): gVisor's runsc,
``--cap-drop ALL`` plus a short list, its account's own bridge network (created on
demand, removed with the account's last pod on the host; the host firewall in
``tenantry.agents.host.network`` drops traffic between such bridges), ports published
only on the address the edge dials, and a workspace that is its own loop-mounted ext4
file of the tier's size, so a full workspace stops that pod's writes and nobody else's.
"""

from __future__ import annotations

import hashlib
import json
import math
import shlex
from typing import Any

import asyncssh

from tenantry.clients.podhost.errors import (
    ContainerNotFound,
    PodConflict,
    RemoteCommandFailed,
    RuntimeUnavailable,
)
from tenantry.clients.podhost.ssh import SshConnector, bash, docker_error, is_missing
from tenantry.contracts.podhost import (
    ContainerInfo,
    ContainerRef,
    ExecInput,
    ExecResult,
    PodHostRef,
    PodIsolation,
    PodSpec,
    PublishedPort,
    RunContainerInput,
    StopContainerInput,
    WorkspaceUsage,
    account_bridge,
    account_network,
    container_name,
    workspace_volume,
)
from tenantry.rules.plans import POD_PLANS

LABEL_POD = "tenantry.pod"
LABEL_ACCOUNT = "tenantry.account"
LABEL_TIER = "tenantry.tier"
LABEL_SERVICES = "tenantry.services"
LABEL_CONFIG = "tenantry.config"
# A workspace with less room than this left is full: writes of any size start failing.
OVER_QUOTA_HEADROOM = 1024 * 1024


class PodContainers:
    """Creates, inspects, stops and removes pod containers on any pod host."""

    def __init__(self, ssh: SshConnector, *, isolation: PodIsolation | None = None) -> None:
        self._ssh = ssh
        self.isolation = isolation or PodIsolation()
        self._facts: dict[tuple[str, int], tuple[int, set[str]]] = {}

    # -- operations (one input model in, one result model out) --------------------------

    async def run_container(self, input: RunContainerInput) -> ContainerInfo:
        """Makes the pod's container exist and run on the host; adopts an existing one."""
        async with self._ssh.connect(input.host) as conn:
            return await self.ensure_running(conn, input.host, input.spec)

    async def stop_container(self, input: StopContainerInput) -> ContainerInfo:
        """Stops the container (a stopped one stays stopped); ContainerNotFound if absent."""
        async with self._ssh.connect(input.host) as conn:
            await self._ssh.run(
                conn,
                ["docker", "stop", "-t", str(input.timeout_seconds), container_name(input.pod_id)],
            )
            return await self._require(conn, input.host, input.pod_id)

    async def remove_container_if_present(self, input: ContainerRef) -> bool:
        """Removes the container (running or not); True if there was one to remove."""
        async with self._ssh.connect(input.host) as conn:
            return await self.remove_container_on(conn, input.host, input.pod_id)

    async def remove_workspace_if_present(self, input: ContainerRef) -> bool:
        """Deletes the pod's workspace volume; True if there was one. Its container must be gone."""
        async with self._ssh.connect(input.host) as conn:
            return await self.remove_volume_if_present(conn, input.pod_id)

    async def workspace_usage(self, input: ContainerRef) -> WorkspaceUsage:
        """How full the pod's workspace filesystem is (ContainerNotFound if it has none)."""
        mount = self.workspace_paths(input.pod_id)[1]
        argv = ["df", "-B1", "--output=used,avail,size", mount]
        script = f"mountpoint -q {shlex.quote(mount)} && {shlex.join(argv)}"
        async with self._ssh.connect(input.host) as conn:
            result = await self._ssh.run(conn, bash(script), check=False)
        if result.exit_status != 0:
            raise ContainerNotFound(f"{input.host.name}: no workspace for pod {input.pod_id}")
        used, avail, size = (int(n) for n in result.stdout.decode().split()[-3:])
        return WorkspaceUsage(
            pod_id=input.pod_id,
            used_bytes=used,
            limit_bytes=size,
            over_quota=avail < OVER_QUOTA_HEADROOM,
        )

    async def container_state(self, input: ContainerRef) -> ContainerInfo:
        """The container as the host sees it now; status ``absent`` when there is none."""
        async with self._ssh.connect(input.host) as conn:
            info = await self.inspect(conn, input.host, input.pod_id)
            return info or ContainerInfo(pod_id=input.pod_id, host=input.host, status="absent")

    async def exec_in_pod(self, input: ExecInput) -> ExecResult:
        """Runs a command inside the running pod (no shell on our side: argv is quoted)."""
        async with self._ssh.connect(input.host) as conn:
            result = await self._ssh.run(
                conn, ["docker", "exec", container_name(input.pod_id), *input.argv], check=False
            )
        if is_missing(result.stderr):
            raise ContainerNotFound(result.stderr.strip())
        return ExecResult(
            exit_status=result.exit_status,
            stdout=result.stdout.decode(errors="replace"),
            stderr=result.stderr,
        )

    # -- building blocks shared with snapshots ------------------------------------------

    async def remove_container_on(
        self, conn: asyncssh.SSHClientConnection, host: PodHostRef, pod_id: str
    ) -> bool:
        """Removes the pod's container and, with the account's last pod, its network."""
        info = await self.inspect(conn, host, pod_id)
        if info is None:
            return False
        await self._ssh.run(conn, ["docker", "rm", "-f", "-v", container_name(pod_id)])
        account = info.account_id
        if account:
            await self._ssh.run(conn, bash(_network_gc_script(account)), check=False)
        return True

    async def ensure_running(
        self,
        conn: asyncssh.SSHClientConnection,
        host: PodHostRef,
        spec: PodSpec,
        *,
        copy_image_workspace: bool = True,
    ) -> ContainerInfo:
        existing = await self.inspect(conn, host, spec.pod_id)
        if existing is not None and existing.status == "running":
            return existing
        if existing is None:
            await self._create(conn, host, spec, copy_image_workspace=copy_image_workspace)
        return await self.start(conn, host, spec.pod_id)

    async def start(
        self,
        conn: asyncssh.SSHClientConnection,
        host: PodHostRef,
        pod_id: str,
        *,
        then: str | None = None,
    ) -> ContainerInfo:
        """Starts the container and reads it back, in one round trip rather than two.

        Starting a running container is a no-op, so a racing attempt is harmless. The
        workspace is mounted again first if it is not (the host rebooted): the pod must
        never start on the empty directory underneath, outside its quota. ``then`` is a
        shell command run once it started, in the same round trip.
        """
        name = container_name(pod_id)
        start = shlex.join(["docker", "start", name])
        image, mount = (shlex.quote(p) for p in self.workspace_paths(pod_id))
        remount = (
            f"{{ ! [ -f {image} ] || mountpoint -q {mount} "
            f"|| mount -o loop,nosuid,nodev {image} {mount}; }}"
        )
        after = f"{then} && " if then else ""
        script = f"{remount} && {start} >/dev/null && {after}{_inspect_cmd(name)}"
        result = await self._ssh.run(conn, bash(script), check=False)
        if result.exit_status != 0:
            raise docker_error(result.stderr, f"docker start {name}")
        return _own_info(pod_id, host, result.stdout)

    async def inspect(
        self, conn: asyncssh.SSHClientConnection, host: PodHostRef, pod_id: str
    ) -> ContainerInfo | None:
        """Our container for ``pod_id``, None if absent; PodConflict if the name is a stranger's."""
        name = container_name(pod_id)
        result = await self._ssh.run(conn, _inspect_cmd(name), check=False)
        if result.exit_status != 0:
            if is_missing(result.stderr):
                return None
            raise RemoteCommandFailed(f"docker inspect {name}: {result.stderr.strip()}")
        return _own_info(pod_id, host, result.stdout)

    async def remove_volume_if_present(
        self, conn: asyncssh.SSHClientConnection, pod_id: str
    ) -> bool:
        volume = workspace_volume(pod_id)
        result = await self._ssh.run(
            conn,
            ["docker", "volume", "inspect", "--format", "{{json .Labels}}", volume],
            check=False,
        )
        if result.exit_status != 0:
            if is_missing(result.stderr):
                return False
            raise RemoteCommandFailed(f"docker volume inspect {volume}: {result.stderr.strip()}")
        labels = json.loads(result.stdout) or {}
        if labels.get(LABEL_POD) != pod_id:
            raise PodConflict(f"volume {volume} exists but is not pod {pod_id}'s")
        await self._ssh.run(conn, ["docker", "volume", "rm", volume])
        await self._ssh.run(conn, bash(self._workspace_discard_script(pod_id)))
        return True

    def workspace_paths(self, pod_id: str) -> tuple[str, str]:
        """The workspace's ext4 image and its mount point on the host."""
        root = self.isolation.workspace_root.rstrip("/")
        return f"{root}/{pod_id}.ext4", f"{root}/{pod_id}"

    def cache_record_paths(self, pod_id: str) -> tuple[str, str]:
        """The record of a kept (hibernated) pod and its claimed form (see podhost.cache)."""
        record = f"{self.isolation.workspace_root.rstrip('/')}/{pod_id}.cache"
        return record, f"{record}.claimed"

    def config_digest(self, spec: PodSpec) -> str:
        """What the pod's container is made from (spec with its env, isolation), hashed."""
        made_of = spec.model_dump_json() + self.isolation.model_dump_json()
        return hashlib.sha256(made_of.encode()).hexdigest()[:32]

    def volume_create_script(self, spec: PodSpec) -> str:
        """Makes the workspace: an ext4 image of the tier's size, mounted, as a bind volume.

        An existing image is mounted again (after a host reboot) and kept as it is.
        ``lost+found`` goes from a fresh filesystem so that Docker sees an empty volume
        and copies the image's /workspace into it, as it does for a plain volume.
        """
        image, mount = (shlex.quote(p) for p in self.workspace_paths(spec.pod_id))
        create = [
            "docker", "volume", "create", "--opt", "type=none", "--opt", "o=bind",
            "--opt", f"device={self.workspace_paths(spec.pod_id)[1]}",
            *_labels(spec), spec.volume_name,
        ]  # fmt: skip
        return (
            f"mkdir -p {mount} && if ! mountpoint -q {mount}; then "
            f"if [ ! -f {image} ]; then "
            f"truncate -s {self.isolation.workspace_mb(spec)}M {image}.part && "
            f"mkfs.ext4 -q -F -m 0 {image}.part && mv {image}.part {image} && "
            f"mount -o loop,nosuid,nodev {image} {mount} && rmdir {mount}/lost+found; "
            f"else mount -o loop,nosuid,nodev {image} {mount}; fi; fi && "
            f"{shlex.join(create)}"
        )

    def _workspace_discard_script(self, pod_id: str) -> str:
        image, mount = (shlex.quote(p) for p in self.workspace_paths(pod_id))
        records = " ".join(shlex.quote(p) for p in self.cache_record_paths(pod_id))
        return (
            f"if mountpoint -q {mount}; then umount {mount}; fi && "
            f"rm -f {image} {image}.part {records} && {{ rmdir {mount} 2>/dev/null || true; }}"
        )

    def _network_ensure_script(self, spec: PodSpec) -> str:
        """The account's bridge network, made on first use; a racing create is adopted."""
        network = account_network(spec.account_id)
        bridge = account_bridge(self.isolation.bridge_prefix, spec.account_id)
        inspect = shlex.join(["docker", "network", "inspect", network])
        create = shlex.join(
            [
                "docker", "network", "create", "--driver", "bridge",
                "-o", f"com.docker.network.bridge.name={bridge}",
                "--label", f"{LABEL_ACCOUNT}={spec.account_id}", network,
            ]
        )  # fmt: skip
        return (
            f"{{ {inspect} >/dev/null 2>&1 || {create} >/dev/null 2>&1 || {inspect} >/dev/null; }}"
        )

    async def _require(
        self, conn: asyncssh.SSHClientConnection, host: PodHostRef, pod_id: str
    ) -> ContainerInfo:
        info = await self.inspect(conn, host, pod_id)
        if info is None:
            raise ContainerNotFound(f"{host.name}: no container for pod {pod_id}")
        return info

    async def _host_facts(
        self, conn: asyncssh.SSHClientConnection, host: PodHostRef
    ) -> tuple[int, set[str]]:
        """CPU count and installed runtimes; asked once per host and then remembered."""
        key = (host.address, host.port)
        if key in self._facts:
            return self._facts[key]
        result = await self._ssh.run(
            conn, ["docker", "info", "--format", "{{.NCPU}}|{{json .Runtimes}}"]
        )
        ncpu, runtimes = result.stdout.decode().strip().split("|", 1)
        self._facts[key] = (int(ncpu), set(json.loads(runtimes)))
        return self._facts[key]

    def _pick_runtime(self, available: set[str]) -> str:
        runtime = self.isolation.runtime
        if runtime == "auto":
            return "runsc" if "runsc" in available else "runc"
        if runtime not in available:
            raise RuntimeUnavailable(f"runtime {runtime} is not installed on the host")
        return runtime

    async def _create(
        self,
        conn: asyncssh.SSHClientConnection,
        host: PodHostRef,
        spec: PodSpec,
        *,
        copy_image_workspace: bool,
    ) -> None:
        ncpu, runtimes = await self._host_facts(conn, host)
        resources = POD_PLANS[spec.tier]
        # A host smaller than the tier (only ever a dev machine) gets all it has.
        cpus = min(float(resources.cpus), float(ncpu))
        mount = f"{spec.volume_name}:/workspace" + ("" if copy_image_workspace else ":nocopy")
        argv = [
            "docker",
            "create",
            "--name",
            spec.container_name,
            "--hostname",
            spec.container_name,
            "--init",  # busybox as PID 1 ignores SIGTERM; tini forwards it
            "--runtime",
            self._pick_runtime(runtimes),
            "--cpus",
            f"{math.floor(cpus * 100) / 100:g}",
            "--memory",
            f"{resources.memory_mb}m",
            "--pids-limit",
            "4096",
            "--security-opt",
            "no-new-privileges",
            "--cap-drop",
            "ALL",
            *(arg for cap in self.isolation.capabilities for arg in ("--cap-add", cap)),
            "--network",
            account_network(spec.account_id),
            "--restart",
            "unless-stopped",
            "-v",
            mount,
            *_labels(spec),
            "--label",
            f"{LABEL_TIER}={spec.tier}",
            "--label",
            f"{LABEL_SERVICES}=" + ",".join(f"{s.name}:{s.port}" for s in spec.services),
            "--label",
            f"{LABEL_CONFIG}={self.config_digest(spec)}",
        ]
        publish = self.isolation.publish_address or host.address
        for service in spec.services:
            argv += ["-p", f"{publish}::{service.port}"]
        volume = self.volume_create_script(spec)
        network = self._network_ensure_script(spec)
        env = "".join(f"{k}={v}\n" for k, v in sorted(spec.env.items())).encode()
        async with self._ssh.private_file(conn, env, "tenantry-env") as env_file:
            create = [*argv, "--env-file", env_file, spec.image]
            # One round trip: the workspace and the account's network (each kept if it
            # exists), then the container.
            script = f"{volume} >/dev/null && {network} && {shlex.join(create)}"
            result = await self._ssh.run(conn, bash(script), check=False)
        # A concurrent attempt may have created it first: adopt, as on any re-run.
        if result.exit_status != 0 and "is already in use" not in result.stderr:
            raise RemoteCommandFailed(
                f"docker create {spec.container_name}: {result.stderr.strip()}"
            )


def _inspect_cmd(name: str) -> str:
    return shlex.join(["docker", "container", "inspect", "--format", "{{json .}}", name])


def _own_info(pod_id: str, host: PodHostRef, inspected: bytes) -> ContainerInfo:
    """The inspected container as ours; PodConflict if its labels say it is a stranger's."""
    data: dict[str, Any] = json.loads(inspected)
    labels = data.get("Config", {}).get("Labels") or {}
    if labels.get(LABEL_POD) != pod_id:
        name = container_name(pod_id)
        raise PodConflict(f"{host.name}: container {name} exists but is not pod {pod_id}'s")
    return _container_info(pod_id, host, data)


def _network_gc_script(account_id: str) -> str:
    """Removes the account's network once no pod of the account is left on the host.

    A pod created at the same moment makes ``docker network rm`` fail (active endpoint)
    or re-creates the network on its own create, so the race is harmless.
    """
    pods = shlex.join(["docker", "ps", "-aq", "--filter", f"label={LABEL_ACCOUNT}={account_id}"])
    remove = shlex.join(["docker", "network", "rm", account_network(account_id)])
    return f'if [ -z "$({pods})" ]; then {remove} >/dev/null 2>&1 || true; fi'


def _labels(spec: PodSpec) -> list[str]:
    return [
        "--label",
        f"{LABEL_POD}={spec.pod_id}",
        "--label",
        f"{LABEL_ACCOUNT}={spec.account_id}",
    ]


def _container_info(pod_id: str, host: PodHostRef, data: dict[str, Any]) -> ContainerInfo:
    labels: dict[str, str] = data.get("Config", {}).get("Labels") or {}
    services: dict[str, str] = {}
    for item in filter(None, labels.get(LABEL_SERVICES, "").split(",")):
        name, _, port = item.partition(":")
        services[f"{port}/tcp"] = name
    ports: list[PublishedPort] = []
    bindings: dict[str, list[dict[str, str]] | None] = (
        data.get("NetworkSettings", {}).get("Ports") or {}
    )
    for proto_port, binds in sorted(bindings.items()):
        for bind in binds or []:
            ports.append(
                PublishedPort(
                    name=services.get(proto_port, proto_port),
                    container_port=int(proto_port.split("/")[0]),
                    host_address=bind.get("HostIp") or host.address,
                    host_port=int(bind["HostPort"]),
                )
            )
    return ContainerInfo(
        pod_id=pod_id,
        host=host,
        status=data.get("State", {}).get("Status", "dead"),
        container_id=data.get("Id"),
        account_id=labels.get(LABEL_ACCOUNT),
        runtime=data.get("HostConfig", {}).get("Runtime"),
        ports=ports,
        config_digest=labels.get(LABEL_CONFIG),
    )
