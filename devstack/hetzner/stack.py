"""The tenant stack's HTTP listener on ``<ip>:80``.

``GET /health`` reads the stack state that ``tenantry-stack start|stop|deploy`` writes over
SSH, so the answer follows what the product did to the server, not emulator bookkeeping:
``{"status": "ok", "version": "<image tag>"}`` while the stack runs, 503 while cloud-init
still runs on this boot (the server type's boot-to-health latency), while it is stopped,
for a moment after it was (re)created, and for good while it runs an image tag
the emulator was told is broken (``failing_stack_tags`` in ``/_admin/config``): the
release that boots but never answers healthy.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from aiohttp import web

from devstack.hetzner.serverfs import STACK_RUNNING, ServerFS

FS_KEY = web.AppKey("server_fs", ServerFS)
FailingTags = Callable[[], Collection[str]]
FAILING_KEY: web.AppKey[FailingTags] = web.AppKey("failing_tags")
START_DELAY = 0.3  # seconds a freshly (re)created stack takes to answer


async def _health(request: web.Request) -> web.Response:
    fs = request.app[FS_KEY]
    state = fs.stack_state()
    version = fs.running_version()
    body: dict[str, Any] = {"stack": state}
    if version is not None:
        body["version"] = version
    if fs.seconds_until_healthy() > 0:
        return web.json_response({"status": "booting", **body}, status=503)
    if state != STACK_RUNNING:
        return web.json_response({"status": "unavailable", **body}, status=503)
    since = fs.seconds_since_start()
    if since is not None and since < START_DELAY:
        return web.json_response({"status": "starting", **body}, status=503)
    if version is not None and version in request.app[FAILING_KEY]():
        return web.json_response({"status": "failing", **body}, status=503)
    return web.json_response({"status": "ok", **body})


async def _index(request: web.Request) -> web.Response:
    fs = request.app[FS_KEY]
    return web.Response(text=f"tenant stack on {fs.hostname()}: {fs.stack_state()}\n")


class StackListener:
    """Serves one server's tenant stack while the server is up."""

    def __init__(
        self,
        fs: ServerFS,
        address: str,
        port: int = 80,
        failing_tags: FailingTags = tuple,
    ) -> None:
        self.address, self.port = address, port
        self.app = web.Application()
        self.app[FS_KEY] = fs
        self.app[FAILING_KEY] = failing_tags
        self.app.router.add_get("/health", _health)
        self.app.router.add_get("/", _index)
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.address, self.port, reuse_address=True)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self.runner = runner

    async def stop(self) -> None:
        runner, self.runner = self.runner, None
        if runner is not None:
            await runner.cleanup()
