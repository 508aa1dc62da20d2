"""Recorded histories replay cleanly against today's workflow code.

Before the first release nothing runs in production: a change that breaks one of these
re-records it (no `workflow.patched`, see `workflows/patches.py` for the policy from the
first release on). Record them all with `TENANTRY_RECORD_HISTORIES=1` while running
`tests/signup -k happy` (signup-active), `tests/pods/test_pod_workflow.py -k lives`
(pod-lifecycle), `tests/metering/test_metering_stack.py` and `tests/metering/test_prepaid.py`
(metering-*, credits-hibernated),
`tests/billing/test_account_billing_stack.py -k unpaid` (account-billing-grace),
`tests/rollouts/test_rollout_flow.py` (rollout-*, tenant-rollback) and
`tests/pool/test_warm_signup.py -k refills` (signup-warm, server-pool). The histories are
in the repository, so none may hold a secret.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tenantry.clients.temporal import DATA_CONVERTER
from worker.registry import workflows

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
# Every workflow type with a lasting history has one here (HealthSweepWorkflow is two
# activities and a loop; its test in tests/rollouts covers it).
RECORDED_TYPES = {
    "SignupWorkflow",
    "TenantWorkflow",
    "PodWorkflow",
    "MeteringWorkflow",
    "CreditsWorkflow",
    "AccountBillingWorkflow",
    "RolloutWorkflow",
    "ServerPoolWorkflow",
}
# What a secret in a payload looks like: tenant secrets by name, key material, Stripe
# keys and webhook secrets, the pod secret the tests create, and people's addresses in
# the credits workflows (their mail activity looks the owner up).
SECRET_MARKS = (
    "PRIVATE KEY",
    "ssh_host_private_key",
    "db_password",
    "auth_secret",
    "encryption_key",
    "root_password",
    "sk_test_",
    "sk_live_",
    "whsec_",
    "s3cret-token",
)


def _texts(node: Any) -> list[str]:
    """The history's JSON and every payload in it, decoded (payloads are base64)."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "data" and isinstance(value, str):
                found.append(base64.b64decode(value).decode("utf-8", "replace"))
            else:
                found.extend(_texts(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_texts(item))
    return found


def _workflow_type(path: Path) -> str:
    first = json.loads(path.read_text())["events"][0]
    return str(first["workflowExecutionStartedEventAttributes"]["workflowType"]["name"])


def test_every_workflow_type_has_a_recorded_history() -> None:
    assert {_workflow_type(p) for p in HISTORIES} >= RECORDED_TYPES


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(workflows=workflows(), data_converter=DATA_CONVERTER)
    await replayer.replay_workflow(history)


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
def test_history_holds_no_secret(path: Path) -> None:
    raw = path.read_text()
    texts = [raw, *_texts(json.loads(raw))]
    assert len(texts) > 1, "no payload decoded"
    marks = [m for m in SECRET_MARKS if any(m in t for t in texts)]
    assert marks == [], marks
    if _workflow_type(path) == "CreditsWorkflow":
        assert not [t for t in texts if "@example.com" in t]


def test_the_secret_check_reads_payloads() -> None:
    payload = base64.b64encode(b'{"ssh_host_private_key": "-----BEGIN"}').decode()
    texts = _texts({"events": [{"input": {"payloads": [{"data": payload}]}}]})
    assert [m for m in SECRET_MARKS if any(m in t for t in texts)] == ["ssh_host_private_key"]
