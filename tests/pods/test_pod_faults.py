"""Pods through the API and a real worker when parts fail: corrupt snapshots, a host's sshd down."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.fixtures.stack import Stack
from tests.support.pods import containers_of, create, docker, status, wait


@pytest.fixture
def stack(pod_stack: Stack) -> Iterator[Stack]:
    yield pod_stack
    assert pod_stack.pod_hosts is not None
    pod_stack.pod_hosts.ensure_running()  # a test that stopped a host's sshd leaves it up


def _write(stack: Stack, pod_id: str, text: str) -> None:
    docker(stack, "exec", f"pod-{pod_id}", "sh", "-c", f"echo {text} > /workspace/note.txt")


def _read(stack: Stack, pod_id: str) -> str:
    return docker(stack, "exec", f"pod-{pod_id}", "cat", "/workspace/note.txt").stdout.strip()


def _request(stack: Stack, key: str, pod_id: str, action: str) -> None:
    with stack.api.client(key) as http:
        response = http.post(f"/v1/pods/{pod_id}/{action}")
    assert response.status_code == 202, response.text


def test_a_corrupt_newest_snapshot_is_refused_and_the_one_before_restores(stack: Stack) -> None:
    key = stack.new_account("corrupt@example.com")
    pod_id = create(stack, key, "twice")
    wait(stack, key, pod_id, status("running"))
    _write(stack, pod_id, "first")
    _request(stack, key, pod_id, "hibernate")
    first = wait(stack, key, pod_id, status("hibernated"))["snapshot"]
    _request(stack, key, pod_id, "restore")
    wait(stack, key, pod_id, status("running"))
    _write(stack, pod_id, "second")
    _request(stack, key, pod_id, "hibernate")
    second = wait(stack, key, pod_id, status("hibernated"))["snapshot"]
    assert second["key"] != first["key"]

    # The newest object is damaged in S3 (one byte flipped): same size, another checksum.
    s3, bucket = stack.aws.s3(), stack.aws.bucket
    data = bytearray(s3.get_object(Bucket=bucket, Key=second["key"])["Body"].read())
    data[len(data) // 2] ^= 0xFF
    s3.put_object(Bucket=bucket, Key=second["key"], Body=bytes(data))

    _request(stack, key, pod_id, "restore")
    pod = wait(stack, key, pod_id, status("running", "failed"), timeout=90)
    assert pod["status"] == "running", pod["error"]
    assert _read(stack, pod_id) == "first"  # the earlier snapshot's workspace
    assert "refused" in (pod["error"] or "")
    assert pod["snapshot"]["key"] == first["key"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert first["key"] in keys and second["key"] not in keys  # the refused one is gone
    assert len(containers_of(stack, pod_id)) == 1


def test_the_hosts_sshd_down_during_hibernate_loses_nothing(stack: Stack) -> None:
    assert stack.pod_hosts is not None
    key = stack.new_account("sshd-down@example.com")
    pod_id = create(stack, key, "unlucky")
    pod = wait(stack, key, pod_id, status("running"))
    host = next(h for h in stack.pod_hosts.hosts if h.name == pod["host"])
    _write(stack, pod_id, "precious")
    # Enough incompressible data that the snapshot is still streaming when sshd goes.
    docker(
        stack,
        "exec",
        f"pod-{pod_id}",
        "sh",
        "-c",
        "dd if=/dev/urandom of=/workspace/blob bs=1M count=64 2>/dev/null",
    )

    _request(stack, key, pod_id, "hibernate")
    wait(stack, key, pod_id, status("hibernating"), timeout=30)
    host.stop()  # the listener and every open session: the stop or the upload breaks
    with stack.api.client(key) as http:
        assert http.get(f"/v1/pods/{pod_id}").json()["status"] == "hibernating"
    time.sleep(4)
    host.start()

    pod = wait(stack, key, pod_id, status("hibernated", "running", "failed"), timeout=120)
    assert pod["status"] in ("hibernated", "running"), pod["error"]
    containers = containers_of(stack, pod_id)
    if pod["status"] == "hibernated":
        assert containers == []  # no orphan left on the host
        _request(stack, key, pod_id, "restore")
        pod = wait(stack, key, pod_id, status("running", "failed"), timeout=90)
        assert pod["status"] == "running", pod["error"]
    else:
        assert len(containers) == 1
    assert _read(stack, pod_id) == "precious"
    assert len(containers_of(stack, pod_id)) == 1
