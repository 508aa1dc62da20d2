"""`POST /v1/pods` with an `Idempotency-Key`: retries, even concurrent ones, make one pod
and one workflow, and every caller gets the same `pod_id`."""

from __future__ import annotations

import threading

import httpx

from tests.fixtures.stack import Stack
from tests.support.pods import POD_CONFIG, containers_of, status, wait


def test_retried_and_concurrent_creates_make_one_pod(pod_stack: Stack) -> None:
    stack = pod_stack
    key = stack.new_account("once@example.com")
    body = {"name": "once", "tier": "dev.small", "config": POD_CONFIG}
    headers = {"Idempotency-Key": "create-once"}
    start = threading.Barrier(3)
    answers: list[httpx.Response] = []

    def post() -> None:
        with stack.api.client(key) as http:
            start.wait()
            answers.append(http.post("/v1/pods", json=body, headers=headers))

    threads = [threading.Thread(target=post) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [a.status_code for a in answers] == [202] * 3, [a.text for a in answers]
    pod_ids = {a.json()["pod_id"] for a in answers}
    assert len(pod_ids) == 1

    with stack.api.client(key) as http:
        later = http.post("/v1/pods", json=body, headers=headers)
        assert (later.status_code, later.json()["pod_id"]) == (202, *pod_ids)
        listed = http.get("/v1/pods").json()["data"]
        other = http.post("/v1/pods", json={**body, "name": "twice"}, headers=headers)
    assert [p["pod_id"] for p in listed] == list(pod_ids)
    assert other.status_code == 409 and other.json()["error"]["code"] == "conflict"
    pod_id = pod_ids.pop()
    wait(stack, key, pod_id, status("running"))
    assert len(containers_of(stack, pod_id)) == 1
