"""`TENANTRY_LOG_FORMAT=json`: one JSON object per line, with Temporal's ids flattened."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

from tenantry.observability.logs import JsonFormatter
from tests.observability.logging_workflow import LogWorkflow, log_activity


@pytest.fixture
def temporal_json_lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """What Temporal's loggers write, through the JSON formatter (as configure_logging sets
    it up, without replacing pytest's own root handlers)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("temporalio")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    monkeypatch.setattr(workflow.logger, "workflow_info_on_message", False)
    monkeypatch.setattr(activity.logger, "activity_info_on_message", False)
    try:
        yield out
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def test_workflow_and_activity_lines_carry_their_ids(
    temporal_client: Client, task_queue: str, temporal_json_lines: io.StringIO
) -> None:
    workflow_id = f"log-{uuid.uuid4().hex[:8]}"
    async with Worker(
        temporal_client, task_queue=task_queue, workflows=[LogWorkflow], activities=[log_activity]
    ):
        handle = await temporal_client.start_workflow(
            LogWorkflow.run, "hello", id=workflow_id, task_queue=task_queue
        )
        assert await handle.result() == "hello"

    records = [json.loads(line) for line in temporal_json_lines.getvalue().splitlines()]
    said = {r["message"]: r for r in records if "says" in r["message"]}
    assert set(said) == {"workflow says hello", "activity says hello"}, records

    in_workflow = said["workflow says hello"]
    assert in_workflow["level"] == "INFO" and in_workflow["logger"] == "temporalio.workflow"
    assert in_workflow["workflow_id"] == workflow_id
    assert in_workflow["run_id"] == handle.result_run_id
    assert in_workflow["workflow_type"] == "ObservabilityLogWorkflow"
    assert "activity_id" not in in_workflow

    in_activity = said["activity says hello"]
    assert in_activity["logger"] == "temporalio.activity"
    assert in_activity["workflow_id"] == workflow_id
    assert in_activity["run_id"] == handle.result_run_id
    assert in_activity["activity_type"] == "observability_log_activity"
    assert in_activity["activity_id"]
    assert in_activity["time"].endswith("+00:00")


def test_configure_logging_json_makes_every_line_an_object() -> None:
    """In a fresh process, as `tenantry worker` starts: records, warnings and exceptions."""
    script = """
import logging, warnings
from tenantry.observability.logs import configure_logging
configure_logging("json")
logging.getLogger("tenantry.test").info("hello %s", "there")
warnings.warn("careful")
try:
    1 / 0
except ZeroDivisionError:
    logging.getLogger("tenantry.test").exception("it broke")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stderr == ""
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["level"], r["logger"]) for r in records] == [
        ("INFO", "tenantry.test"),
        ("WARNING", "py.warnings"),
        ("ERROR", "tenantry.test"),
    ]
    assert records[0]["message"] == "hello there"
    assert "careful" in records[1]["message"]
    assert "ZeroDivisionError" in records[2]["exception"]
