"""A pull that fails once does not roll a tenant back: the server is untouched until the
image is there, the retried pull succeeds, and the deploy then really deploys.

Before, the compose file was retagged before the pull, so the retry found "already
runs", deployed nothing, failed the health gate and rolled back for no real fault.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.fixtures.stack import Stack
from tests.support.rollouts import (
    FIRST_TAG,
    activate_all,
    log_actions,
    stack_health,
    start_rollout,
    tenant,
    wait_rollout,
)


def test_a_pull_that_fails_once_then_succeeds_completes_without_rollback(
    stack_factory: Callable[..., Stack],
) -> None:
    stack = stack_factory(rollout_health_budget=10)
    (t,) = activate_all(stack, "pull-once")
    stack.hetzner.admin.post("/_admin/config", {"failing_pulls": {"2.1": 1}})

    rollout = start_rollout(stack, "2.1", parallelism=1, canary=0)
    final = wait_rollout(stack, rollout["rollout_id"], timeout=180)
    assert final["status"] == "completed", final
    (result,) = final["tenants"]
    assert result["status"] == "updated", result
    assert (result["from_version"], result["to_version"]) == (FIRST_TAG, "2.1")
    assert stack_health(stack, t) == (200, "2.1")
    actions = log_actions(tenant(stack, t["tenant_id"]))
    assert "rollout.rollback" not in actions and actions.count("rollout.deploy") == 1
    # The failed pull was really tried (and failed) before the one that worked.
    assert stack.hetzner.admin.get("/_admin/config")["failing_pulls"] == {}
