"""The tenant stack's HTTP listener on ``<ip>:80``.

``GET /health`` reads the stack state file that ``tenantry-stack start|stop`` writes over
SSH, so the answer follows what the product did to the server, not emulator bookkeeping.
"""

from __future__ import annotations

from aiohttp import web

from devstack.hetzner.serverfs import STACK_RUNNING, ServerFS

FS_KEY = web.AppKey("server_fs", ServerFS)


async def _health(request: web.Request) -> web.Response:
    state = request.app[FS_KEY].stack_state()
    if state == STACK_RUNNING:
        return web.json_response({"status": "ok"})
    return web.json_response({"status": "unavailable", "stack": state}, status=503)


async def _index(request: web.Request) -> web.Response:
    fs = request.app[FS_KEY]
    return web.Response(text=f"tenant stack on {fs.hostname()}: {fs.stack_state()}\n")


class StackListener:
    """Serves one server's tenant stack while the server is up."""

    def __init__(self, fs: ServerFS, address: str, port: int = 80) -> None:
        self.address, self.port = address, port
        self.app = web.Application()
        self.app[FS_KEY] = fs
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
