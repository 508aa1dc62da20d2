"""Idle auto-hibernate: activity reported by agents keeps a pod running; silence hibernates it."""

from __future__ import annotations

import time
import uuid

from tests.fixtures.api import EDGE_TOKEN
from tests.fixtures.stack import Stack
from tests.support.pods import POD_CONFIG, containers_of, create, status, wait


def test_reported_activity_keeps_a_pod_up_and_silence_hibernates_it(pod_stack: Stack) -> None:
    stack = pod_stack
    key = stack.new_account("idle@example.com")
    pod_id = create(stack, key, "sleepy", POD_CONFIG + "idle_timeout: 6s\n")
    pod = wait(stack, key, pod_id, status("running", "failed"))
    assert pod["status"] == "running", pod["error"]
    assert pod["idle_timeout"] == 6

    # An agent at the edge reports traffic every 2 s for 10 s: longer than the timeout.
    unknown = str(uuid.uuid4())
    with stack.api.client(EDGE_TOKEN) as agent:
        for _ in range(5):
            report = agent.post(
                "/v1/hosts/activity", json={"source": "proxy", "pods": [pod_id, unknown]}
            )
            assert report.status_code == 200, report.text
            assert report.json() == {"kept_alive": [pod_id], "ignored": [unknown]}
            time.sleep(2)
        bad = agent.post("/v1/hosts/activity", json={"source": "Proxy!", "pods": ["nope"]})
        assert bad.status_code == 422
    with stack.api.client(key) as http:
        pod = http.get(f"/v1/pods/{pod_id}").json()
        # Why it is still running: the last activity and what saw it.
        assert pod["status"] == "running"
        assert pod["last_activity_source"] == "proxy"
        # An account's key is not a host or edge credential.
        assert (
            http.post("/v1/hosts/activity", json={"source": "proxy", "pods": []}).status_code == 401
        )

    # Then silence: the pod hibernates by itself, with nothing left on the host.
    pod = wait(stack, key, pod_id, status("hibernated", "failed"), timeout=60)
    assert pod["status"] == "hibernated", pod["error"]
    assert pod["snapshot"] is not None
    assert containers_of(stack, pod_id) == []
    with stack.api.client(EDGE_TOKEN) as agent:
        late = agent.post("/v1/hosts/activity", json={"source": "proxy", "pods": [pod_id]})
        assert late.json() == {"kept_alive": [], "ignored": [pod_id]}
