"""Recorded histories replay cleanly against today's workflow code.

A change that breaks one of these needs `workflow.patched()`, not a new recording.
Record a new history with `TENANTRY_RECORD_HISTORIES=1 pytest tests/signup -k happy`
(rollouts and a tenant's rollback: `... pytest tests/rollouts/test_rollout_flow.py`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tenantry.clients.temporal import DATA_CONVERTER
from worker.registry import workflows

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_there_are_recorded_histories() -> None:
    assert [p.name for p in HISTORIES if p.name.startswith("signup-")], "no signup history"
    assert [p.name for p in HISTORIES if p.name.startswith("rollout-")], "no rollout history"


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(workflows=workflows(), data_converter=DATA_CONVERTER)
    await replayer.replay_workflow(history)
