"""Pausing, resuming and cancelling a rollout; requests that do not fit are 409 (CLI exit 2)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from tests.fixtures.stack import Stack
from tests.support.rollouts import (
    activate_all,
    admin,
    cli,
    cli_json,
    stack_health,
    start_rollout,
    wait_rollout,
)


def test_pause_resume_cancel_and_conflicts(stack_factory: Callable[..., Stack]) -> None:
    stack = stack_factory(rollout_health_budget=10)
    tenants = activate_all(stack, "ctl-a", "ctl-b")
    rid = start_rollout(stack, "4.0", parallelism=1, canary=1)["rollout_id"]

    paused = admin(stack, "POST", f"/v1/admin/rollouts/{rid}/pause", json={"reason": "lunch"})
    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == "paused"
    again = admin(stack, "POST", f"/v1/admin/rollouts/{rid}/pause")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    assert admin(stack, "POST", f"/v1/admin/rollouts/{rid}/resume").status_code == 200
    assert admin(stack, "POST", f"/v1/admin/rollouts/{rid}/pause").status_code == 200

    # One rollout at a time.
    other = admin(stack, "POST", "/v1/admin/rollouts", json={"tag": "4.1"})
    assert other.status_code == 409 and other.json()["error"]["details"]["rollout_id"] == rid

    # While paused, the tenant in flight (the canary, if it had started) finishes and no
    # other starts.
    time.sleep(3)
    held = wait_rollout(stack, rid, lambda r: r["status"] == "paused")
    assert held["counts"]["pending"] >= 1 and held["counts"]["updated"] <= 1, held
    time.sleep(1)
    assert wait_rollout(stack, rid, lambda r: True)["counts"] == held["counts"]

    resumed = cli(stack, "rollout", "resume", rid, "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert cli_json(resumed)["status"] == "running"
    twice = cli(stack, "rollout", "resume", rid)
    assert twice.returncode == 2 and "conflict" in twice.stderr

    final = wait_rollout(stack, rid)
    assert final["status"] == "completed" and final["counts"]["updated"] == 2, final
    assert all(stack_health(stack, t) == (200, "4.0") for t in tenants)
    assert cli(stack, "rollout", "cancel", rid).returncode == 2  # it is over

    # Cancel: what is in flight finishes, the rest is not started; the tenants stay healthy.
    second = start_rollout(stack, "4.1", parallelism=1, canary=1)["rollout_id"]
    assert admin(stack, "POST", f"/v1/admin/rollouts/{second}/pause").status_code == 200
    cancelled = admin(stack, "POST", f"/v1/admin/rollouts/{second}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] in ("cancelling", "cancelled")
    assert admin(stack, "POST", f"/v1/admin/rollouts/{second}/resume").status_code == 409
    final = wait_rollout(stack, second)
    assert final["status"] == "cancelled", final
    assert final["counts"]["not_started"] >= 1 and final["counts"]["pending"] == 0, final
    versions = {stack_health(stack, t) for t in tenants}
    assert versions <= {(200, "4.0"), (200, "4.1")} and (200, "4.0") in versions
    shown = cli(stack, "rollout", "show", second)
    assert shown.returncode == 1 and "cancelled" in shown.stdout

    # A new rollout may start once the last one ended.
    third = start_rollout(stack, "4.1", parallelism=2, canary=0)["rollout_id"]
    assert wait_rollout(stack, third)["status"] == "completed"
    listed = cli(stack, "rollout", "list", "--json")
    assert [r["rollout_id"] for r in cli_json(listed)][:3] == [third, second, rid]


def test_cli_bad_input_exits_2(stack_factory: Callable[..., Stack]) -> None:
    stack = stack_factory(start_worker=False)
    bad_tag = cli(stack, "rollout", "start", "not a tag!", "--no-wait")
    assert bad_tag.returncode == 2 and "tag" in bad_tag.stderr
    assert cli(stack, "rollout", "start", "5.0", "--parallelism", "0").returncode == 2
    assert cli(stack, "rollout", "start", "5.0", "--canary", "-1").returncode == 2
    missing = cli(stack, "rollout", "pause", str(uuid.uuid4()))
    assert missing.returncode == 2 and "not found" in missing.stderr
    assert cli(stack, "rollout", "show", "not-a-uuid").returncode == 2
    response = admin(stack, "POST", "/v1/admin/rollouts", json={"tag": "x" * 200})
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_input"
    assert admin(stack, "GET", "/v1/admin/rollouts").json()["data"] == []
