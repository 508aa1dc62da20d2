"""Activities mocked by name, and a worker that runs a workflow against them.

A mock is registered under the activity's *name* (`create_server`), never by importing
the activity class: the workflow under test calls whatever its code calls today, and the
refactors underneath (activity classes moving, string-named calls becoming typed) do not
touch these tests. Each mock declares the contract model it takes, so the pydantic data
converter hands it a typed input, records the call, and answers with a contract model.
"""

from __future__ import annotations

import contextlib
import inspect
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError
from temporalio.worker import Worker


@dataclass(frozen=True)
class Call:
    name: str
    arg: Any
    scheduled: datetime  # in the server's clock: skipped time included


@dataclass
class Calls:
    """Every mocked activity call of one test, in the order they ran."""

    log: list[Call] = field(default_factory=list)

    def of(self, name: str) -> list[Any]:
        """The inputs `name` was called with, in order."""
        return [c.arg for c in self.log if c.name == name]

    def times(self, name: str) -> list[datetime]:
        """When each call of `name` was scheduled, in the workflow's (skipped) time."""
        return [c.scheduled for c in self.log if c.name == name]

    def names(self) -> list[str]:
        return [c.name for c in self.log]


Answer = Callable[[Any], Any]


def mocked(calls: Calls, name: str, takes: type, answer: Answer | None = None) -> Any:
    """An activity named `name` taking one `takes`: records the call, returns
    `answer(input)` (None without one; awaited when it is a coroutine, to hold a call
    in flight); an `answer` that raises fails the attempt."""

    async def mock(arg: Any) -> Any:
        calls.log.append(Call(name, arg, activity.info().current_attempt_scheduled_time))
        result = answer(arg) if answer is not None else None
        return await result if inspect.isawaitable(result) else result

    # The data converter reads the input's type from the signature.
    mock.__annotations__ = {"arg": takes, "return": Any}
    mock.__name__ = mock.__qualname__ = f"mock_{name}"
    return activity.defn(name=name)(mock)


@dataclass
class Run:
    """A test's worker: its fresh task queue and the workflows the test started on it."""

    client: Client
    task_queue: str
    started: list[WorkflowHandle[Any, Any]] = field(default_factory=list)

    async def start(self, run: Any, arg: Any, *, id: str) -> WorkflowHandle[Any, Any]:
        handle: WorkflowHandle[Any, Any] = await self.client.start_workflow(
            run, arg, id=id, task_queue=self.task_queue
        )
        self.started.append(handle)
        return handle


@asynccontextmanager
async def worker(
    client: Client, workflows: Sequence[type], activities: Sequence[Any]
) -> AsyncIterator[Run]:
    """A worker on a fresh task queue, so that no test takes another's tasks.

    Entity workflows (tenant, pod) never end by themselves: what the test started is
    terminated when it ends, so that no timer of a finished test keeps firing on the
    session's server while the next test skips time.
    """
    run = Run(client, f"fast-{uuid.uuid4().hex[:12]}")
    async with Worker(
        client, task_queue=run.task_queue, workflows=list(workflows), activities=list(activities)
    ):
        try:
            yield run
        finally:
            for handle in run.started:
                with contextlib.suppress(RPCError):
                    await handle.terminate("the test is over")
