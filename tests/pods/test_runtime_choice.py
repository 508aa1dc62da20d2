"""Which runtime a pod gets: runsc unless runc is chosen on purpose; never a silent fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenantry.clients.podhost import RuntimeUnavailable
from tenantry.clients.podhost.containers import PodContainers
from tenantry.clients.podhost.ssh import SshConnector
from tenantry.contracts.podhost import ContainerRuntime, PodIsolation
from tenantry.settings import WorkerSettings


def _containers(runtime: ContainerRuntime) -> PodContainers:
    ssh = SshConnector(Path("/nonexistent/key"), [])
    return PodContainers(ssh, isolation=PodIsolation(runtime=runtime))


def test_a_host_without_runsc_refuses_pods_unless_runc_is_chosen() -> None:
    with pytest.raises(RuntimeUnavailable) as refused:
        _containers("runsc")._pick_runtime({"runc", "io.containerd.runc.v2"})
    assert not refused.value.retryable
    assert _containers("runsc")._pick_runtime({"runc", "runsc"}) == "runsc"
    assert _containers("runc")._pick_runtime({"runc"}) == "runc"
    assert _containers("auto")._pick_runtime({"runc"}) == "runc"


def test_settings_default_to_runsc_and_the_base_image(monkeypatch: pytest.MonkeyPatch) -> None:
    isolation = WorkerSettings().pod_isolation
    assert isolation.runtime == "runsc"
    assert "NET_RAW" not in isolation.capabilities
    assert WorkerSettings().pod_image_allowlist == ["tenantry/pod-base:"]
    monkeypatch.setenv("TENANTRY_POD_IMAGE_ALLOWLIST", '["registry.example.com/"]')
    monkeypatch.setenv("TENANTRY_POD_RUNTIME", "runc")
    assert WorkerSettings().pod_image_allowlist == ["registry.example.com/"]
    assert WorkerSettings().pod_isolation.runtime == "runc"
