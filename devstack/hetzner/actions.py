"""Actions: asynchronous work that goes ``running`` -> ``success`` or ``error``.

An action's effect is applied when it finishes, so "the action succeeded" means the same
as on Hetzner: the server is now in the new state. ``progress`` grows with elapsed time
over the configured duration; an action can wait for another (``start_server`` after
``create_server``), and an admin rule can make the next N actions of a command fail.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from devstack.hetzner.timefmt import now_iso

log = logging.getLogger(__name__)

Effect = Callable[[], Awaitable[None]]


class ActionFailure(BaseModel):
    """Admin rule: the next ``times`` actions of ``command`` end in ``error``."""

    command: str
    times: int = Field(default=1, ge=1)
    code: str = "action_failed"
    message: str = "Action failed"


@dataclass
class Action:
    id: int
    command: str
    resources: list[dict[str, Any]]
    started: str = field(default_factory=now_iso)
    status: Literal["running", "success", "error"] = "running"
    finished: str | None = None
    error: dict[str, str] | None = None
    duration: float = 0.0
    timer_started: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def progress(self) -> int:
        if self.status != "running":
            return 100
        if self.timer_started is None or self.duration <= 0:
            return 0
        elapsed = asyncio.get_running_loop().time() - self.timer_started
        return max(0, min(99, int(elapsed / self.duration * 100)))

    def server_ids(self) -> list[int]:
        return [int(r["id"]) for r in self.resources if r["type"] == "server"]

    def render(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "command": self.command,
            "status": self.status,
            "progress": self.progress,
            "started": self.started,
            "finished": self.finished,
            "resources": self.resources,
            "error": self.error,
        }

    def dump(self) -> dict[str, Any]:
        data = self.render()
        data["progress"] = 100 if self.status != "running" else 0
        return data


class ActionRunner:
    """Owns every action of the emulator and the tasks that finish them."""

    def __init__(self, duration: float) -> None:
        self.duration = duration
        self.actions: dict[int, Action] = {}
        self.failures: list[ActionFailure] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._next_id = 1

    def start(
        self,
        command: str,
        server_id: int,
        *,
        effect: Effect | None = None,
        on_error: Effect | None = None,
        after: Action | None = None,
        duration: float | None = None,
    ) -> Action:
        """``duration`` overrides the configured one (a server type's create latency)."""
        action = Action(
            id=self._next_id,
            command=command,
            resources=[{"id": server_id, "type": "server"}],
            duration=self.duration if duration is None else duration,
        )
        self._next_id += 1
        self.actions[action.id] = action
        task = asyncio.create_task(self._run(action, effect, on_error, after))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return action

    def _failure_for(self, command: str) -> ActionFailure | None:
        for rule in self.failures:
            if rule.command in (command, "*"):
                rule.times -= 1
                if rule.times <= 0:
                    self.failures.remove(rule)
                return rule
        return None

    async def _run(
        self, action: Action, effect: Effect | None, on_error: Effect | None, after: Action | None
    ) -> None:
        try:
            if after is not None:
                await after.done.wait()
            action.timer_started = asyncio.get_running_loop().time()
            await asyncio.sleep(action.duration)
            failure = self._failure_for(action.command)
            if after is not None and after.status == "error":
                failure = ActionFailure(command=action.command)
            if failure is None and effect is not None:
                await effect()
            elif failure is not None and on_error is not None:
                await on_error()
        except asyncio.CancelledError:
            failure = ActionFailure(command=action.command, message="Action cancelled")
        except Exception as exc:  # an effect that breaks must fail the action, not hang it
            log.exception("action %s (%s) failed", action.id, action.command)
            failure = ActionFailure(command=action.command, message=str(exc))
        if failure is None:
            action.status = "success"
        else:
            action.status = "error"
            action.error = {"code": failure.code, "message": failure.message}
        action.finished = now_iso()
        action.done.set()

    def running_for(self, server_id: int) -> Action | None:
        for action in self.actions.values():
            if action.status == "running" and server_id in action.server_ids():
                return action
        return None

    async def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def reset(self) -> None:
        self.actions.clear()
        self.failures.clear()
