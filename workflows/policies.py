"""Retry policies, timeouts and the one way workflows run a step.

Every workflow retries the same kinds of steps the same way, so the policies have names
here instead of a copy per workflow: a step that gives up after a few minutes, cleanup
and bookkeeping that never give up, and the few policies of one workflow (pods, the
edge, rollouts, the health sweep). Changing one changes it for every workflow that uses
it, which is the point.

`step` runs an activity method as an ordinary activity or, with `local=True`, as a local
activity in the worker that runs the workflow: short idempotent writes and calls need no
task-queue round trip that way. Long steps (a server, DNS, a pod host) are ordinary
activities and heartbeat; a local activity cannot heartbeat, so asking for both is a bug.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar, overload

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.edge import EDGE_REJECTED
    from tenantry.contracts.common import ErrorType, PodErrorType

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")

# -- retry policies -----------------------------------------------------------------------
# Transient faults retry with backoff; after this many attempts a step has failed for good.
STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=8,
    non_retryable_error_types=list(ErrorType.NON_RETRYABLE),
)
# Undo steps and bookkeeping never give up: leaving a server behind costs money every
# hour, and a status nobody wrote is a tenant nobody can see.
FOREVER = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
# Metering and credits: retried for as long as it takes (an hour is billed once, later
# rather than never), but an error no retry can fix fails at once.
UNTIL_DONE = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=list(ErrorType.NON_RETRYABLE),
)
# A tenant busy with another operation (suspend, tier change) is retried for ~15 minutes.
DEPLOY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=30,
    non_retryable_error_types=list(ErrorType.NON_RETRYABLE),
)
# The health sweep comes back on its own schedule: a page that fails thrice is skipped.
SWEEP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=3,
)
# A pod host's step: a few quick tries, then the pod reports the error.
POD_STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=6,
    non_retryable_error_types=list(PodErrorType.NON_RETRYABLE),
)
# Waiting for a host with room: a while, then the pod fails with a reason.
PLACEMENT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=8,
)
# A pod's cleanup and bookkeeping never give up (a leftover container costs money every
# hour), except when the host or the request itself is wrong.
POD_CLEANUP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["HostKeyMismatch", "HostAuthFailed", "PodConflict"],
)
# The edge: waited for as long as it takes (a pod is only up once it can be reached); a
# route Caddy refuses is a bug no retry fixes, and is logged rather than failing the pod.
EDGE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=[EDGE_REJECTED],
)

# -- timeouts -----------------------------------------------------------------------------
# A short call: a database write, a balance, an edge route.
QUICK = timedelta(seconds=30)
# Long steps heartbeat at least every 5 s; a dead worker's step is retried after this.
HEARTBEAT = timedelta(seconds=10)
# Steps that heartbeat per page or per item (metering, rollouts, hibernating an account).
SLOW_HEARTBEAT = timedelta(seconds=30)
# A page of metering or credits, a tenant's long step, an undo.
PAGE_TIMEOUT = timedelta(minutes=10)
# A pod host's step (a snapshot of a large workspace), a server's creation.
HOST_TIMEOUT = timedelta(minutes=15)


@overload
async def step(
    method: Callable[[Any, ArgT], Awaitable[ResultT]],
    arg: ArgT,
    *,
    limit: timedelta,
    retry: RetryPolicy,
    local: bool = False,
    heartbeat: timedelta | None = None,
) -> ResultT: ...


@overload
async def step(
    method: Callable[[Any, ArgT], ResultT],
    arg: ArgT,
    *,
    limit: timedelta,
    retry: RetryPolicy,
    local: bool = False,
    heartbeat: timedelta | None = None,
) -> ResultT: ...


async def step(
    method: Callable[[Any, Any], Any],
    arg: Any,
    *,
    limit: timedelta,
    retry: RetryPolicy,
    local: bool = False,
    heartbeat: timedelta | None = None,
) -> Any:
    """Runs one activity method with one argument and waits for its result.

    `limit` is its start-to-close timeout. `local=True` runs it as a local activity (no
    heartbeat possible); otherwise it is an ordinary activity, with `heartbeat` as its
    heartbeat timeout when given.
    """
    if local:
        if heartbeat is not None:
            raise ValueError("a local activity cannot heartbeat")
        return await workflow.execute_local_activity_method(
            method, arg, start_to_close_timeout=limit, retry_policy=retry
        )
    return await workflow.execute_activity_method(
        method, arg, start_to_close_timeout=limit, heartbeat_timeout=heartbeat, retry_policy=retry
    )
