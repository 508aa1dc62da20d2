"""Warm pods: a hibernated pod's stopped container and workspace kept on its host.

Why: a wake that downloads the whole snapshot costs seconds per 100 MB; a host that
still has the stopped pod can start it in the time of a ``docker start``. S3 stays the
durable copy: a pod is kept only after its snapshot was verified there, so dropping a
kept copy (eviction) never loses data, and a kept copy is only ever used when it is
provably the bytes of the snapshot being restored.

A kept copy is a record file beside the workspace image (``<pod>.cache``) holding the
sha256 of the verified snapshot it equals, the host it was kept on, the image's
fingerprint (inode, size, mtime and ctime in ns, taken after the workspace was
unmounted) and when it was kept. A restore uses it only if the snapshot's sha256 is the
recorded one, the image's fingerprint is unchanged (any write to the image changes its
ctime, which nobody can set back) and the stopped container was made from the same
config; anything else is discarded and the snapshot is downloaded. Re-hashing the image
instead would cost more than the start it saves.

Kept copies share a disk budget per host, least recently kept first out. Only entries
with a record are ever evicted; a workspace without one (a running pod, or one whose
snapshot is still uploading or unverified) is never touched. A restore and an eviction
each claim a record by renaming it (atomic), so they cannot both take the same copy.
"""

from __future__ import annotations

import re
import shlex
import time
from dataclasses import dataclass

import asyncssh

from tenantry.clients.podhost.containers import PodContainers
from tenantry.clients.podhost.ssh import SshConnector, bash
from tenantry.contracts.podhost import (
    ContainerInfo,
    KeepCachedInput,
    KeepCachedResult,
    PodHostRef,
    PodSpec,
    SnapshotRef,
)

RECORD_VERSION = "v1"
FINGERPRINT = "%i:%s:%.9Y:%.9Z"  # GNU stat: inode, size, mtime and ctime in ns
_FIELD = re.compile(r"^[A-Za-z0-9._:-]+$")


@dataclass(frozen=True)
class CacheRecord:
    """What a kept copy is: a verified snapshot's bytes on one host, unchanged since."""

    pod_id: str
    sha256: str
    host: str
    fingerprint: str
    kept_at_ns: int

    def line(self) -> str:
        return f"{RECORD_VERSION} {self.sha256} {self.host} {self.fingerprint} {self.kept_at_ns}"

    @classmethod
    def parse(cls, pod_id: str, line: str) -> CacheRecord | None:
        fields = line.split()
        if len(fields) != 5 or fields[0] != RECORD_VERSION or not fields[4].isdigit():
            return None
        return cls(pod_id, fields[1], fields[2], fields[3], int(fields[4]))


@dataclass(frozen=True)
class CacheEntry:
    """A kept copy as an eviction sees it: its record, its disk use, its container."""

    record: CacheRecord
    disk_bytes: int
    running: bool


def choose_evictions(entries: list[CacheEntry], budget_bytes: int) -> list[str]:
    """The pods whose kept copies go so that the rest fit the budget, oldest kept first.

    A running pod's entry is not a kept copy (a restore is using it): never chosen, and
    not counted.
    """
    kept = sorted((e for e in entries if not e.running), key=lambda e: e.record.kept_at_ns)
    used = sum(e.disk_bytes for e in kept)
    chosen: list[str] = []
    for entry in kept:
        if used <= budget_bytes:
            break
        chosen.append(entry.record.pod_id)
        used -= entry.disk_bytes
    return chosen


class PodCache:
    """Keeps, looks up, claims and evicts kept pods on a host (see the module docstring)."""

    def __init__(self, ssh: SshConnector, containers: PodContainers) -> None:
        self._ssh = ssh
        self._containers = containers

    def _root(self) -> str:
        return self._containers.isolation.workspace_root.rstrip("/")

    def record_path(self, pod_id: str) -> str:
        return self._containers.cache_record_paths(pod_id)[0]

    def _claimed_path(self, pod_id: str) -> str:
        return self._containers.cache_record_paths(pod_id)[1]

    async def keep(self, input: KeepCachedInput) -> KeepCachedResult:
        """Keeps the stopped pod (or removes it when the budget has no room), then evicts.

        Idempotent: keeping again rewrites the same record; a pod already gone (evicted
        by an earlier attempt) is reported as not kept.
        """
        host, pod_id = input.host, input.pod_id
        if not _FIELD.match(host.name):
            raise ValueError(f"host name {host.name!r} cannot go in a cache record")
        async with self._ssh.connect(host) as conn:
            info = await self._containers.inspect(conn, host, pod_id)
            if info is None or info.status == "running" or input.budget_bytes == 0:
                # Nothing to keep (or not allowed to): free the host as without a cache.
                await self.drop(conn, host, pod_id)
                return KeepCachedResult(kept=False)
            image, mount = (shlex.quote(p) for p in self._containers.workspace_paths(pod_id))
            record, part = (
                shlex.quote(self.record_path(pod_id)),
                shlex.quote(self.record_path(pod_id) + ".part"),
            )
            claimed = shlex.quote(self._claimed_path(pod_id))
            # Unmounted first, so that nothing writes the image after its fingerprint.
            prefix = f"{RECORD_VERSION} {input.snapshot.sha256} {host.name}"
            script = (
                f"{{ ! mountpoint -q {mount} || umount {mount}; }} && "
                f"fp=$(stat -c {shlex.quote(FINGERPRINT)} {image}) && "
                f'printf "%s %s %s\\n" {shlex.quote(prefix)} "$fp" {time.time_ns()} > {part} '
                f"&& mv -f {part} {record} && rm -f {claimed}"
            )
            await self._ssh.run(conn, bash(script))
            evicted, cached = await self.evict_over_budget(conn, host, input.budget_bytes)
            return KeepCachedResult(
                kept=pod_id not in evicted, evicted=evicted, cached_bytes=cached
            )

    async def entries(
        self, conn: asyncssh.SSHClientConnection, host: PodHostRef
    ) -> list[CacheEntry]:
        """This host's kept copies (records naming another host are not ours to count)."""
        root = shlex.quote(self._root())
        script = (
            f'cd {root} 2>/dev/null || exit 0; for r in *.cache; do [ -f "$r" ] || continue; '
            f'id=${{r%.cache}}; printf "%s|%s|%s\\n" "$id" "$(head -c 400 "$r")" '
            f'"$(stat -c "%b*%B" "$id.ext4" 2>/dev/null || echo 0)"; done; '
            "echo '--'; docker ps -q --filter label=tenantry.pod "
            "--format '{{.Label \"tenantry.pod\"}}'"
        )
        out = (await self._ssh.run(conn, bash(script))).stdout.decode()
        records_part, _, running_part = out.partition("--\n")
        running = set(running_part.split())
        found: list[CacheEntry] = []
        for line in records_part.splitlines():
            pod_id, _, rest = line.partition("|")
            text, _, blocks = rest.rpartition("|")
            record = CacheRecord.parse(pod_id, text)
            if record is None or record.host != host.name:
                continue
            count, _, unit = blocks.partition("*")
            disk = int(count) * int(unit) if count.isdigit() and unit.isdigit() else 0
            found.append(CacheEntry(record, disk, pod_id in running))
        return found

    async def evict_over_budget(
        self, conn: asyncssh.SSHClientConnection, host: PodHostRef, budget_bytes: int
    ) -> tuple[list[str], int]:
        """Evicts the oldest kept copies until the rest fit; the evicted and the bytes left."""
        entries = await self.entries(conn, host)
        chosen = choose_evictions(entries, budget_bytes)
        evicted: list[str] = []
        for pod_id in chosen:
            if await self._claim(conn, pod_id) is not None:
                await self.drop(conn, host, pod_id)
                evicted.append(pod_id)
        left = sum(
            e.disk_bytes for e in entries if not e.running and e.record.pod_id not in evicted
        )
        return evicted, left

    async def _claim(self, conn: asyncssh.SSHClientConnection, pod_id: str) -> str | None:
        """Takes the record (renames it); its text, or None when someone else took it."""
        record, claimed = (
            shlex.quote(p) for p in (self.record_path(pod_id), self._claimed_path(pod_id))
        )
        result = await self._ssh.run(
            conn, bash(f"mv {record} {claimed} 2>/dev/null && cat {claimed}"), check=False
        )
        return result.stdout.decode() if result.exit_status == 0 else None

    async def claim_for_restore(
        self,
        conn: asyncssh.SSHClientConnection,
        host: PodHostRef,
        spec: PodSpec,
        snapshot: SnapshotRef,
        existing: ContainerInfo | None,
    ) -> bool:
        """Whether the kept copy on this host is the snapshot's bytes and may be started.

        Takes the record (a claim left by an interrupted restore of this pod is taken
        over: only the pod's own workflow restores it). One round trip reads the record
        and the image's fingerprint; the container's config label is checked too.
        """
        if existing is None:
            return False
        image = self._containers.workspace_paths(spec.pod_id)[0]
        record, claimed = (
            shlex.quote(p) for p in (self.record_path(spec.pod_id), self._claimed_path(spec.pod_id))
        )
        script = (
            f"{{ mv {record} {claimed} 2>/dev/null || true; }} && cat {claimed} && "
            f"stat -c {shlex.quote(FINGERPRINT)} {shlex.quote(image)}"
        )
        result = await self._ssh.run(conn, bash(script), check=False)
        if result.exit_status != 0:
            return False
        lines = result.stdout.decode().splitlines()
        if len(lines) != 2:
            return False
        kept = CacheRecord.parse(spec.pod_id, lines[0])
        return (
            kept is not None
            and kept.host == host.name
            and kept.sha256 == snapshot.sha256
            and kept.fingerprint == lines[1].strip()
            and existing.config_digest == self._containers.config_digest(spec)
        )

    def release_claim_script(self, pod_id: str) -> str:
        """The kept copy is a live pod again: its claimed record goes (a shell command)."""
        return f"rm -f {shlex.quote(self._claimed_path(pod_id))}"

    async def release_claim(self, conn: asyncssh.SSHClientConnection, pod_id: str) -> None:
        await self._ssh.run(conn, bash(self.release_claim_script(pod_id)))

    async def drop(self, conn: asyncssh.SSHClientConnection, host: PodHostRef, pod_id: str) -> None:
        """Removes the pod's container, workspace and any record (what freeing a host does)."""
        await self._containers.remove_container_on(conn, host, pod_id)
        await self._containers.remove_volume_if_present(conn, pod_id)
        paths = (self.record_path(pod_id), self._claimed_path(pod_id))
        await self._ssh.run(conn, ["rm", "-f", *paths])
