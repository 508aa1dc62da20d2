"""Each workspace is its own ext4 filesystem of the tier's size: a full one stops only its pod.

The client test writes past a 16 MB workspace from one pod while a second pod on the
same host keeps writing; the stack test shows the documented status on
`GET /v1/pods/{id}` (running, reason `workspace_full`, an error saying why) and that
it clears once files are deleted.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from collections.abc import Callable

from tenantry.clients.podhost import PodHostClient
from tenantry.contracts.podhost import (
    ContainerRef,
    ExecInput,
    RunContainerInput,
    StopContainerInput,
)
from tests.fixtures.podhosts import PodHosts
from tests.fixtures.stack import Stack
from tests.pods.conftest import new_spec, remove_pod, sh
from tests.support.pods import POD_CONFIG, create, docker, status, wait

MB = 1024 * 1024


async def test_a_full_workspace_stops_its_pod_writes_and_no_one_elses(
    client: PodHostClient, hosts: PodHosts
) -> None:
    host = hosts.ref(0)
    full, other = new_spec(workspace_mb=16), new_spec(account_id="acct-2", workspace_mb=16)
    try:
        await asyncio.gather(
            *(client.run_container(RunContainerInput(host=host, spec=s)) for s in (full, other))
        )
        # The image's /workspace was copied into the fresh filesystem, as for a volume.
        assert "index.html" in await sh(client, host, full.pod_id, "ls /workspace")
        ref = ContainerRef(host=host, pod_id=full.pod_id)
        usage = await client.workspace_usage(ref)
        assert not usage.over_quota
        assert 12 * MB < usage.limit_bytes <= 16 * MB

        dd = ["dd", "if=/dev/zero", "of=/workspace/big", "bs=1M", "count=40"]
        result = await client.exec_in_pod(ExecInput(host=host, pod_id=full.pod_id, argv=dd))
        assert result.exit_status != 0
        assert "No space left on device" in result.stderr
        usage = await client.workspace_usage(ref)
        assert usage.over_quota
        assert usage.used_bytes > 12 * MB

        # The other pod on the same host writes as much as its own quota allows.
        await sh(client, host, other.pod_id, "dd if=/dev/zero of=/workspace/f bs=1M count=8")
        assert (await sh(client, host, other.pod_id, "wc -c < /workspace/f")).strip() == str(8 * MB)
        other_usage = await client.workspace_usage(ContainerRef(host=host, pod_id=other.pod_id))
        assert not other_usage.over_quota

        # Room again: the flag clears.
        await sh(client, host, full.pod_id, "rm /workspace/big")
        assert not (await client.workspace_usage(ref)).over_quota
    finally:
        for spec in (full, other):
            await remove_pod(client, host, spec.pod_id)
    # The workspace's image and mount went with the pod.
    assert not any(hosts.workspace_root.glob(f"{full.pod_id}*"))


def test_get_pod_says_when_its_workspace_is_full(stack_factory: Callable[..., Stack]) -> None:
    stack = stack_factory(pods=True, pod_workspace_max_mb=16, pod_workspace_check=0.5)
    stack.register_pod_hosts()
    key = stack.new_account("quota@example.com")
    pod_id = create(stack, key, "filler", POD_CONFIG)
    pod = wait(stack, key, pod_id, status("running", "failed"))
    assert pod["status"] == "running", pod["error"]
    assert pod["status_reason"] is None

    container = f"pod-{pod_id}"
    fill = docker(stack, "exec", container, "dd", "if=/dev/zero", "of=/workspace/big", "bs=1M",
                  "count=40", check=False)  # fmt: skip
    assert "No space left on device" in fill.stderr
    pod = wait(stack, key, pod_id, lambda p: p["status_reason"] == "workspace_full", timeout=30)
    assert pod["status"] == "running"
    assert re.match(r"workspace full: \d+ MB of 1[0-6] MB used; writes fail", pod["error"])

    docker(stack, "exec", container, "rm", "/workspace/big")
    pod = wait(stack, key, pod_id, lambda p: p["status_reason"] is None, timeout=30)
    assert pod["status"] == "running"
    assert pod["error"] is None


async def test_a_stopped_pod_starts_on_its_workspace_again_after_a_reboot_unmounted_it(
    client: PodHostClient, hosts: PodHosts
) -> None:
    host = hosts.ref(0)
    spec = new_spec(workspace_mb=16)
    try:
        await client.run_container(RunContainerInput(host=host, spec=spec))
        await sh(client, host, spec.pod_id, "echo kept > /workspace/note")
        await client.stop_container(StopContainerInput(host=host, pod_id=spec.pod_id))
        # What a reboot does to the loop mount (the hosts are this machine).
        mount = hosts.workspace_root / spec.pod_id
        subprocess.run(["umount", str(mount)], check=True)
        assert not os.path.ismount(mount)

        await client.run_container(RunContainerInput(host=host, spec=spec))
        assert os.path.ismount(mount)
        assert await sh(client, host, spec.pod_id, "cat /workspace/note") == "kept\n"
    finally:
        await remove_pod(client, host, spec.pod_id)
