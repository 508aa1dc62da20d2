"""Pod containers on a pod host, driven with the ``docker`` CLI over SSH.

Every operation is idempotent because a pod's container and workspace volume are named
after the pod (``pod-<id>``, ``pod-<id>-workspace``): creating again adopts what is
there (and starts it), removing what is gone is a no-op. Labels (``tenantry.pod``,
``tenantry.account``) mark what we made, so we never adopt or delete a stranger's
container that merely has the name.
"""

from __future__ import annotations

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
    ContainerRuntime,
    ExecInput,
    ExecResult,
    PodHostRef,
    PodSpec,
    PublishedPort,
    RunContainerInput,
    StopContainerInput,
    container_name,
    workspace_volume,
)
from tenantry.rules.plans import POD_PLANS

LABEL_POD = "tenantry.pod"
LABEL_ACCOUNT = "tenantry.account"
LABEL_TIER = "tenantry.tier"
LABEL_SERVICES = "tenantry.services"


class PodContainers:
    """Creates, inspects, stops and removes pod containers on any pod host."""

    def __init__(self, ssh: SshConnector, *, runtime: ContainerRuntime = "runc") -> None:
        self._ssh = ssh
        self._runtime = runtime
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
            info = await self.inspect(conn, input.host, input.pod_id)
            if info is None:
                return False
            await self._ssh.run(conn, ["docker", "rm", "-f", "-v", container_name(input.pod_id)])
            return True

    async def remove_workspace_if_present(self, input: ContainerRef) -> bool:
        """Deletes the pod's workspace volume; True if there was one. Its container must be gone."""
        async with self._ssh.connect(input.host) as conn:
            return await self.remove_volume_if_present(conn, input.pod_id)

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
        return await self._start(conn, host, spec.pod_id)

    async def _start(
        self, conn: asyncssh.SSHClientConnection, host: PodHostRef, pod_id: str
    ) -> ContainerInfo:
        """Starts the container and reads it back, in one round trip rather than two.

        Starting a running container is a no-op, so a racing attempt is harmless.
        """
        name = container_name(pod_id)
        start = shlex.join(["docker", "start", name])
        script = f"{start} >/dev/null && {_inspect_cmd(name)}"
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
        return True

    @staticmethod
    def volume_create_argv(spec: PodSpec) -> list[str]:
        """Creates the labelled workspace volume; an existing one is kept as it is."""
        return ["docker", "volume", "create", *_labels(spec), spec.volume_name]

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
        if self._runtime == "auto":
            return "runsc" if "runsc" in available else "runc"
        if self._runtime not in available:
            raise RuntimeUnavailable(f"runtime {self._runtime} is not installed on the host")
        return self._runtime

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
            "--restart",
            "unless-stopped",
            "-v",
            mount,
            *_labels(spec),
            "--label",
            f"{LABEL_TIER}={spec.tier}",
            "--label",
            f"{LABEL_SERVICES}=" + ",".join(f"{s.name}:{s.port}" for s in spec.services),
        ]
        for service in spec.services:
            argv += ["-p", f"{host.address}::{service.port}"]
        volume = self.volume_create_argv(spec)
        env = "".join(f"{k}={v}\n" for k, v in sorted(spec.env.items())).encode()
        async with self._ssh.private_file(conn, env, "tenantry-env") as env_file:
            create = [*argv, "--env-file", env_file, spec.image]
            # One round trip: the labelled volume (kept if it exists), then the container.
            script = f"{shlex.join(volume)} >/dev/null && {shlex.join(create)}"
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
        runtime=data.get("HostConfig", {}).get("Runtime"),
        ports=ports,
    )
