"""Rollouts on the real stack: tenants' servers get the new tag over SSH, canary first,
health-gated; a bad tag is rolled back on the canary and the fleet is left alone."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Replayer

from tenantry.clients.temporal import DATA_CONVERTER
from tests.fixtures.stack import Stack
from tests.fixtures.temporal import visible_workflow_ids
from tests.support.rollouts import (
    FIRST_TAG,
    activate_all,
    admin,
    cli,
    cli_json,
    log_actions,
    set_failing_tags,
    stack_health,
    start_rollout,
    tenant,
    wait_rollout,
)
from worker.registry import workflows
from workflows.rollout import RolloutWorkflow

HISTORIES = Path(__file__).parents[1] / "replay" / "histories"


async def replay_and_record(
    client: Client, workflow_id: str, name: str, run_id: str | None = None
) -> None:
    """The history replays against today's code (recorded for tests/replay on request)."""
    history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    await Replayer(workflows=workflows(), data_converter=DATA_CONVERTER).replay_workflow(history)
    if os.environ.get("TENANTRY_RECORD_HISTORIES"):
        (HISTORIES / f"{name}.json").write_text(history.to_json())


def _at(t: dict[str, object], action: str) -> datetime:
    entries = t["provisioning_log"]
    assert isinstance(entries, list)
    return min(datetime.fromisoformat(e["at"]) for e in entries if e["action"] == action)


async def test_rollout_updates_every_active_tenant_canary_first(
    stack_factory: Callable[..., Stack], temporal_client: Client
) -> None:
    # A short history limit: the rollout continues-as-new on the way, as a large one would.
    stack = stack_factory(rollout_health_budget=10, rollout_history_limit=30)
    tenants = activate_all(stack, "roll-a", "roll-b", "roll-c", "roll-d")
    assert all(stack_health(stack, t) == (200, FIRST_TAG) for t in tenants)
    asleep = tenants[3]
    suspended = admin(stack, "POST", f"/v1/admin/tenants/{asleep['tenant_id']}/suspend")
    assert suspended.status_code == 200, suspended.text

    # Through the CLI, as an operator would: it follows the rollout and exits 0.
    result = cli(stack, "rollout", "start", "2.0", "--canary", "1", "--parallelism", "2", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    rollout = cli_json(result)
    assert rollout["status"] == "completed" and rollout["phase"] == "done"
    assert rollout["counts"]["updated"] == 3 and rollout["counts"]["skipped"] == 1
    by_subdomain = {t["subdomain"]: t for t in rollout["tenants"]}
    assert by_subdomain["roll-d"]["status"] == "skipped"
    assert by_subdomain["roll-d"]["reason"] == "tenant is suspended"
    for name in ("roll-a", "roll-b", "roll-c"):
        assert by_subdomain[name]["from_version"] == FIRST_TAG
        assert by_subdomain[name]["to_version"] == "2.0"

    # Every active server reports the new tag; the record says so too. The suspended one
    # was not touched (still down, still on the first tag).
    for t in tenants[:3]:
        assert stack_health(stack, t) == (200, "2.0")
        assert tenant(stack, t["tenant_id"])["version"] == "2.0"
    assert stack_health(stack, asleep) == (503, FIRST_TAG)
    assert "rollout.deploy" not in log_actions(tenant(stack, asleep["tenant_id"]))

    # Canary first: the canary passed its gate before any other tenant was deployed to.
    updated = [tenant(stack, t["tenant_id"]) for t in tenants[:3]]
    first = min(updated, key=lambda t: _at(t, "rollout.deploy"))
    others = [t for t in updated if t is not first]
    assert all(_at(first, "rollout.updated") <= _at(t, "rollout.deploy") for t in others)

    # The same tag again: every tenant is already on it, nothing is deployed twice.
    again = start_rollout(stack, "2.0", parallelism=3, canary=0)
    final = wait_rollout(stack, again["rollout_id"])
    assert final["status"] == "completed" and final["counts"]["already"] == 3, final
    for t in tenants[:3]:
        assert log_actions(tenant(stack, t["tenant_id"])).count("rollout.deploy") == 1

    # An operator finds it in Temporal; its history replays against today's code.
    handle = temporal_client.get_workflow_handle(f"rollout-{rollout['rollout_id']}")
    assert (await handle.query(RolloutWorkflow.state)).runs >= 2
    description = await handle.describe()
    assert description.typed_search_attributes  # Stage
    found = await visible_workflow_ids(
        temporal_client,
        f'WorkflowType = "RolloutWorkflow" AND Stage = "completed" '
        f'AND WorkflowId = "rollout-{rollout["rollout_id"]}"',
        at_least=1,
    )
    assert found == [f"rollout-{rollout['rollout_id']}"]
    await replay_and_record(temporal_client, handle.id, "rollout-completed")
    # ... and so does its first run, the canary and the start of the fleet up to
    # continue-as-new.
    first_run = description.raw_description.workflow_execution_info.first_run_id
    await replay_and_record(temporal_client, handle.id, "rollout-continued", first_run)


async def test_bad_tag_fails_the_canary_rolls_it_back_and_leaves_the_fleet(
    stack_factory: Callable[..., Stack], temporal_client: Client
) -> None:
    stack = stack_factory(rollout_health_budget=3)
    tenants = activate_all(stack, "bad-a", "bad-b", "bad-c")
    set_failing_tags(stack, "3.0-broken")

    rollout = start_rollout(stack, "3.0-broken", parallelism=2, canary=1)
    final = wait_rollout(stack, rollout["rollout_id"])
    assert final["status"] == "failed", final
    assert final["counts"]["rolled_back"] == 1 and final["counts"]["not_started"] == 2, final
    assert "rolled_back" in (final["error"] or "")
    (canary,) = [t for t in final["tenants"] if t["status"] == "rolled_back"]
    assert canary["from_version"] == FIRST_TAG and canary["to_version"] == FIRST_TAG
    assert "3.0-broken" in canary["reason"]

    # Every server is healthy on the tag it had; only the canary was ever deployed to.
    for t in tenants:
        assert stack_health(stack, t) == (200, FIRST_TAG)
        record = tenant(stack, t["tenant_id"])
        actions = log_actions(record)
        if t["tenant_id"] == canary["tenant_id"]:
            assert record["version"] == FIRST_TAG
            assert actions.count("rollout.deploy") == 1 and actions.count("rollout.rollback") == 1
        else:
            assert "rollout.deploy" not in actions

    # `show` of a failed rollout exits 1, with the JSON still printed.
    shown = cli(stack, "rollout", "show", rollout["rollout_id"], "--json")
    assert shown.returncode == 1 and cli_json(shown)["status"] == "failed"

    # Both histories replay: the halted rollout and the canary tenant's rollback.
    await replay_and_record(temporal_client, f"rollout-{rollout['rollout_id']}", "rollout-halted")
    await replay_and_record(temporal_client, f"tenant-{canary['tenant_id']}", "tenant-rollback")
