"""The worker's status server: product gauges at `/metrics`, and `GET /healthz`.

The Temporal SDK serves its own `temporal_*` metrics from its Rust core on
`worker_metrics_address`; it cannot take our gauges, so they get a second port
(`worker_status_address`) that also answers the container healthcheck. `/healthz` is 200
when the worker is polling and both the database and Temporal answer within the health
timeout, 503 otherwise, with the failed check named in the JSON body.

A plain asyncio server: two routes need no framework, and it leaves the worker's signal
handling alone (uvicorn would install its own).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import timedelta

from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from worker.product_metrics import ProductMetrics

log = logging.getLogger("tenantry.worker.status")


class HealthCheck:
    """Whether this worker can do its job right now."""

    def __init__(
        self,
        engine: AsyncEngine,
        client: Client,
        polling: Callable[[], bool],
        *,
        timeout: timedelta,
    ) -> None:
        self.engine = engine
        self.client = client
        self.polling = polling
        self.timeout = timeout.total_seconds()

    async def _database(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def _temporal(self) -> None:
        await self.client.service_client.check_health(timeout=timedelta(seconds=self.timeout))

    async def run(self) -> dict[str, str]:
        checks = {"worker": "ok" if self.polling() else "not polling"}
        for name, check in (("database", self._database), ("temporal", self._temporal)):
            try:
                await asyncio.wait_for(check(), self.timeout)
                checks[name] = "ok"
            except Exception as exc:  # health reports any failure, whatever its kind
                checks[name] = f"unavailable: {type(exc).__name__}"
        return checks


class StatusServer:
    """Serves `/metrics` and `/healthz` on `address` (host:port) until `close()`."""

    def __init__(self, address: str, metrics: ProductMetrics, health: HealthCheck) -> None:
        self.address = address
        self.metrics = metrics
        self.health = health
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Starts serving; a taken port is logged as an error, not fatal to the worker."""
        host, _, port = self.address.rpartition(":")
        try:
            self._server = await asyncio.start_server(self._handle, host or "127.0.0.1", int(port))
        except (OSError, ValueError) as exc:
            log.error("no status server on %s: %s", self.address, exc)
            return
        log.info("status server on http://%s (/metrics, /healthz)", self.address)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            method, path, *_ = request.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            status, content_type, body = await self._route(method, path.split("?", 1)[0])
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode("latin-1") + (body if method != "HEAD" else b""))
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            pass  # a client that sent no complete request gets no answer
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _route(self, method: str, path: str) -> tuple[str, str, bytes]:
        if method not in ("GET", "HEAD"):
            return "405 Method Not Allowed", "text/plain", b"method not allowed\n"
        if path == "/metrics":
            return "200 OK", CONTENT_TYPE_LATEST, await self.metrics.render()
        if path == "/healthz":
            checks = await self.health.run()
            healthy = all(v == "ok" for v in checks.values())
            body = json.dumps({"status": "ok" if healthy else "unhealthy", "checks": checks})
            status = "200 OK" if healthy else "503 Service Unavailable"
            return status, "application/json", body.encode() + b"\n"
        return "404 Not Found", "text/plain", b"not found\n"
