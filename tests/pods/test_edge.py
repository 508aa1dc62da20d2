"""Pods at the edge on the real stack: traffic through Caddy keeps a pod up (reported by a
real `tenantry edge-agent`), silence hibernates it, and a request for its URL wakes it.

Requests go to the test Caddy with the pod's Host header. Nothing here sleeps for a fixed
time to see something happen: traffic runs for longer than the idle timeout, and every
wait has a deadline.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from sqlalchemy import select
from temporalio.client import Client

from db.models import PodEvent
from db.session import make_engine
from tenantry.contracts.pod import PodRequest, PodState, PodStatus
from tests.fixtures.stack import Stack
from tests.support.pods import (
    POD_CONFIG,
    containers_of,
    create,
    docker,
    edge_get,
    status,
    wait,
    wait_edge,
)

IDLE_TIMEOUT = 8


def pod_events(stack: Stack, pod_id: str) -> list[str]:
    engine = make_engine(stack.settings.database_url)
    try:
        with engine.connect() as db:
            rows = db.execute(
                select(PodEvent.kind).where(PodEvent.pod_id == pod_id).order_by(PodEvent.id)
            )
            return list(rows.scalars())
    finally:
        engine.dispose()


def test_traffic_keeps_a_pod_up_silence_hibernates_it_and_a_request_wakes_it(
    pod_stack: Stack,
) -> None:
    stack = pod_stack
    stack.start_edge_agent(interval=1)
    key = stack.new_account("edge@example.com")
    config = POD_CONFIG + f"idle_timeout: {IDLE_TIMEOUT}s\n"
    pod_id = create(stack, key, "web", config)
    pod = wait(stack, key, pod_id, status("running", "failed"))
    assert pod["status"] == "running", pod["error"]
    url = pod["urls"]["http"]
    docker(stack, "exec", f"pod-{pod_id}", "sh", "-c", "echo awake > /workspace/index.html")
    assert wait_edge(stack, url).text == "awake\n"

    # Traffic through the proxy for well over the idle timeout: every request is served by
    # the pod, which never hibernates meanwhile; what keeps it running is the proxy.
    until = time.monotonic() + 2.5 * IDLE_TIMEOUT
    while time.monotonic() < until:
        response = edge_get(stack, url, "/index.html")
        assert response.status_code == 200, (response.status_code, response.text[:200])
        time.sleep(0.5)
    with stack.api.client(key) as http:
        pod = http.get(f"/v1/pods/{pod_id}").json()
    assert pod["status"] == "running"
    assert pod["last_activity_source"] == "proxy", pod
    assert "hibernating" not in pod_events(stack, pod_id)

    # Silence: the pod hibernates by itself, and its URL now leads to the waker.
    pod = wait(stack, key, pod_id, status("hibernated", "failed"), timeout=90)
    assert pod["status"] == "hibernated", pod["error"]
    assert containers_of(stack, pod_id) == []

    # A burst of requests (a refreshing browser, a few tabs): each gets the waking-up page,
    # and the pod is restored once.
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: edge_get(stack, url, "/index.html"), range(16)))
    for answer in answers:
        assert answer.status_code in (503, 200), answer.text[:300]
    waking = next(a for a in answers if a.status_code == 503)
    assert waking.headers["retry-after"] == "3"
    assert '<meta http-equiv="refresh"' in waking.text and "web is waking up" in waking.text
    assert wait_edge(stack, url, "/index.html", timeout=90).text == "awake\n"

    pod = wait(stack, key, pod_id, status("running"))
    events = pod_events(stack, pod_id)
    assert events[events.index("hibernated") :] == ["hibernated", "restoring", "running"], events

    with stack.api.client(key) as http:
        assert http.delete(f"/v1/pods/{pod_id}").status_code == 202
    wait(stack, key, pod_id, status("destroyed"))
    assert edge_get(stack, url).status_code == 404


async def test_the_waker_finds_pods_by_hostname_and_leaves_unpaid_ones_asleep(
    pod_stack: Stack, temporal_client: Client
) -> None:
    """The API side of the waker: unknown and foreign hostnames are 404, nothing is woken;
    a pod hibernated because its prepaid credits ran out stays hibernated."""
    stack = pod_stack
    key = stack.new_account("waker@example.com")
    pod_id = create(stack, key, "api")
    pod = wait(stack, key, pod_id, status("running", "failed"))
    assert pod["status"] == "running", pod["error"]
    host = httpx.URL(pod["urls"]["http"]).netloc.decode()
    label, domain = host.split(".", 1)

    def wake(host_header: str) -> httpx.Response:
        with stack.api.client() as http:
            return http.get("/v1/edge/wake", headers={"Host": host_header})

    # A running pod (the edge has not switched yet): come back soon, nothing is restored.
    running = wake(host)
    assert running.status_code == 503 and "api is starting" in running.text
    for stranger in [
        f"other-{label}.{domain}",  # no such service
        f"{label[:-1]}{'1' if label.endswith('0') else '0'}.{domain}",  # another handle
        f"{label}.elsewhere.test",  # not the pods' domain
        "localhost",
    ]:
        answer = wake(stranger)
        assert answer.status_code == 404, (stranger, answer.text)
        assert "No such pod" in answer.text

    # Hibernated as CreditsWorkflow does it (source credits): traffic does not wake it.
    handle = temporal_client.get_workflow_handle(f"pod-{pod_id}")
    await handle.execute_update("hibernate", PodRequest(source="credits"), result_type=PodState)
    pod = wait(stack, key, pod_id, status("hibernated", "failed"))
    assert (pod["status"], pod["status_reason"]) == ("hibernated", "credits"), pod
    paused = edge_get(stack, f"http://{host}")
    assert paused.status_code == 503 and "is paused" in paused.text, paused.text
    assert "retry-after" not in paused.headers
    state = await handle.query("state", result_type=PodState)
    assert (state.status, state.pending) == (PodStatus.HIBERNATED, None)

    with stack.api.client(key) as http:
        assert http.delete(f"/v1/pods/{pod_id}").status_code == 202
    wait(stack, key, pod_id, status("destroyed"))
    assert wake(host).status_code == 404


def test_hostnames_must_be_dns_labels_and_unique(stack_factory: Any) -> None:
    stack = stack_factory(pods=True, start_worker=False)  # nothing needs to run
    key = stack.new_account("names@example.com")
    long_name = "a" * 32
    with stack.api.client(key) as http:
        too_long = http.post(
            "/v1/pods",
            json={
                "name": long_name,
                "config": {"services": [{"name": "x" * 20, "port": 8080}]},
            },
        )
        assert too_long.status_code == 422, too_long.text
        field = too_long.json()["error"]["details"]["fields"][0]
        assert field["field"] == "name" and "63" in field["message"]

        first = http.post(
            "/v1/pods", json={"name": "b", "config": {"services": [{"name": "web-a", "port": 80}]}}
        )
        assert first.status_code == 202, first.text
        # service web of pod a-b would be web-a-b-<account> too.
        clash = http.post(
            "/v1/pods", json={"name": "a-b", "config": {"services": [{"name": "web", "port": 80}]}}
        )
        assert clash.status_code == 409, clash.text
        assert clash.json()["error"]["details"]["fields"][0]["field"] == "name"
        assert [p["name"] for p in http.get("/v1/pods").json()["data"]] == ["b"]
