"""The one way tests wait for something that happens elsewhere (a worker, a server, a
container): call a probe until its answer is good or a deadline passes, then fail the
test saying what was awaited and what was last seen.

Every test waited with its own loop before, and each loop differed a little (`<` or `>`
on the deadline, a last probe or not, a message with or without the last answer); one
helper makes them alike: the probe always runs at least once, once more at the deadline,
and the failure always names the last answer.

`eventually` blocks between probes (HTTP, files, subprocesses); `eventually_async` is for
async tests (Temporal's client, or a worker in the test's own event loop that must get on
with its work meanwhile). Both sleep `interval` between probes.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar, overload

import pytest

T = TypeVar("T")

Describe = str | Callable[[Any], str]
"""What is awaited: a noun phrase (the failure says "timed out after 5s waiting for
<what>; last: <answer>"), or a function of the last answer that returns the whole message."""


def eventually(
    probe: Callable[[], T],
    *,
    timeout: float,
    what: Describe,
    until: Callable[[T], bool] = bool,
    interval: float = 0.1,
    ignoring: tuple[type[BaseException], ...] = (),
) -> T:
    """Calls `probe` until `until(answer)` holds and returns that answer.

    An exception in `ignoring` raised by the probe counts as a bad answer (a server that
    is not listening yet); it is the "last answer" if the deadline passes.
    """
    deadline = time.monotonic() + timeout
    while True:
        last_try = time.monotonic() >= deadline
        try:
            answer: Any = probe()
            if until(answer):
                return answer  # type: ignore[no-any-return]
        except ignoring as exc:
            answer = exc
        if last_try:
            _fail(what, answer, timeout)
        time.sleep(max(0.0, min(interval, deadline - time.monotonic())))


@overload
async def eventually_async(
    probe: Callable[[], Awaitable[T]],
    *,
    timeout: float,
    what: Describe,
    until: Callable[[T], bool] = bool,
    interval: float = 0.1,
    ignoring: tuple[type[BaseException], ...] = (),
) -> T: ...


@overload
async def eventually_async(
    probe: Callable[[], T],
    *,
    timeout: float,
    what: Describe,
    until: Callable[[T], bool] = bool,
    interval: float = 0.1,
    ignoring: tuple[type[BaseException], ...] = (),
) -> T: ...


async def eventually_async(
    probe: Callable[[], Any],
    *,
    timeout: float,
    what: Describe,
    until: Callable[[Any], bool] = bool,
    interval: float = 0.1,
    ignoring: tuple[type[BaseException], ...] = (),
) -> Any:
    """`eventually` in a coroutine: the event loop runs on between probes (a worker in
    the same loop gets on with its work); the probe may await or not."""
    deadline = time.monotonic() + timeout
    while True:
        last_try = time.monotonic() >= deadline
        try:
            answer: Any = probe()
            if inspect.isawaitable(answer):
                answer = await answer
            if until(answer):
                return answer
        except ignoring as exc:
            answer = exc
        if last_try:
            _fail(what, answer, timeout)
        await asyncio.sleep(max(0.0, min(interval, deadline - time.monotonic())))


def _fail(what: Describe, answer: object, timeout: float) -> NoReturn:
    if callable(what):
        pytest.fail(what(answer))
    pytest.fail(f"timed out after {timeout:g}s waiting for {what}; last: {answer!r}")
