"""One signup is one trace: the API's request span, the workflow start, the workflow run and
its activities share a trace id, across the API (in this process) and the worker process,
both exporting over OTLP/HTTP to a receiver in the test. The worker logs JSON meanwhile."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from tests.fixtures.stack import Stack
from tests.observability.support import ReceivedSpan, otlp_receiver
from tests.support.checkout import pay


def _wait_for(
    spans: Callable[[], list[ReceivedSpan]],
    done: Callable[[list[ReceivedSpan]], bool],
    timeout: float = 30,
) -> list[ReceivedSpan]:
    """The spans once `done` holds and no new one came for a second (or at the timeout)."""
    deadline = time.monotonic() + timeout
    previous: list[ReceivedSpan] = []
    while True:
        got = spans()
        if (done(got) and len(got) == len(previous)) or time.monotonic() > deadline:
            return got
        previous = got
        time.sleep(1)


def test_a_signup_is_one_trace_from_the_api_to_the_activities(
    stack_factory: Callable[..., Stack], monkeypatch: pytest.MonkeyPatch
) -> None:
    with otlp_receiver() as receiver:
        # Settings read the endpoint from the environment, as in production; the worker
        # inherits it. Spans leave every 0.2 s instead of 5 s.
        monkeypatch.setenv("TENANTRY_OTLP_ENDPOINT", receiver.url)
        monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
        stack = stack_factory(log_format="json")

        created = stack.signup("traced", email="founder@traced.example")
        pay(created["checkout_url"])
        stack.wait_active(created)

        def complete(spans: list[ReceivedSpan]) -> bool:
            names = {s.name for s in spans}
            # The welcome mail is the saga's last step; a server step came before it.
            return "RunActivity:send_email" in names and any(
                n.startswith("RunActivity:") and "server" in n for n in names
            )

        spans = _wait_for(receiver.snapshot, complete)

    api = [s for s in spans if s.service == "tenantry-api" and s.name == "POST /v1/signups"]
    assert len(api) == 1, sorted({(s.service, s.name) for s in spans})
    trace = [s for s in spans if s.trace_id == api[0].trace_id]
    names = {(s.service, s.name.split(":")[0]) for s in trace}
    starts = {n for s, n in names if s == "tenantry-api" and "Workflow" in n}
    assert starts, names  # StartWorkflow or its update-with-start form, from the API
    assert ("tenantry-worker", "RunWorkflow") in names, names
    activities = sorted(s.name for s in trace if s.name.startswith("RunActivity:"))
    assert len(activities) >= 3, activities
    assert "RunActivity:send_email" in activities, activities
    # Provisioning happens after payment (another request): still the signup's trace.
    assert any("server" in a for a in activities), activities
    # Every span of the trace hangs off another one of it, up to the API's span.
    by_id = {s.span_id: s for s in trace}
    roots = [s for s in trace if s.parent_span_id not in by_id]
    assert roots == api, [(r.service, r.name) for r in roots]

    lines = stack.worker_logs().splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert records, lines[:20]
    assert not [line for line in lines if line and not line.startswith(("{", "---"))], lines
    polling = [r for r in records if r["message"].startswith("worker polling")]
    assert polling and polling[0]["level"] == "INFO" and polling[0]["logger"] == "tenantry.worker"
    assert {"time", "level", "logger", "message"} <= set(polling[0])
