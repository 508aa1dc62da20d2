"""`tenantry edge-agent`: traffic through the edge proxy counts as pod activity.

It runs beside Caddy (`tenantry dev` starts it, and a production edge would run it as a
sidecar) and needs no database: it follows Caddy's JSON access log (a file, so Caddy never
waits for it and a restarted agent just carries on), maps each request's Host to a pod
through the routes in Caddy's own config (route ids are ``pod-{pod_id}-{service}``, see
`tenantry.rules.edge_names`), and once per `edge_report_interval` sends the pods seen since
the last report in one batch to ``POST /v1/hosts/activity`` with source ``proxy``, with
the edge token (``TENANTRY_EDGE_TOKEN``: a credential of its own that can only report
traffic). So a pod gets at most one keepalive per interval however busy it is, and a
report that fails (the API is down) is merged into the next one.

Only hosts seen in an interval cost a lookup, and the route map is read from Caddy once
per such interval: it is always as fresh as the routes the workflows set.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from pathlib import Path

import httpx

from tenantry.clients.caddy import CaddyAdmin, CaddyError, route_hosts
from tenantry.observability.logs import configure_logging
from tenantry.rules.edge_names import pod_of_route
from tenantry.settings import EdgeAgentSettings

log = logging.getLogger("tenantry.agents.edge")

SOURCE = "proxy"
MAX_BATCH = 1000  # what the API takes in one report


class LogFollower:
    """New complete lines of a file, like ``tail -F``.

    The file may not exist yet (it is waited for), may be replaced (Caddy rolls its log:
    the rest of the old file is read, then the new one from its start) or truncated
    (read again from the start). Lines older than the follower are skipped: the first
    file found at start is read from its end.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: int | None = None
        self._inode: int | None = None
        self._offset = 0
        self._partial = b""
        self._started = False

    def _open(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            self._started = True  # a file that appears later is new: read it whole
            return False
        stat = os.fstat(fd)
        self._fh, self._inode = fd, stat.st_ino
        self._offset = 0 if self._started else stat.st_size
        self._started = True
        return True

    def _read_to_end(self) -> bytes:
        assert self._fh is not None
        chunks = []
        while chunk := os.pread(self._fh, 1 << 16, self._offset):
            self._offset += len(chunk)
            chunks.append(chunk)
        return b"".join(chunks)

    def _close(self) -> None:
        if self._fh is not None:
            os.close(self._fh)
        self._fh = None

    def read_lines(self) -> list[bytes]:
        if self._fh is None and not self._open():
            return []
        data = self._partial + self._read_to_end()
        try:
            current: os.stat_result | None = os.stat(self.path)
        except FileNotFoundError:
            current = None  # removed: keep reading what is open until a new one appears
        if current is not None and current.st_ino != self._inode:
            # Replaced: the old file is done; the new one is read from its start.
            self._close()
            if data and not data.endswith(b"\n"):
                data += b"\n"
            if self._open():
                data += self._read_to_end()
        elif current is not None and current.st_size < self._offset:
            self._offset = 0  # truncated
            data += self._read_to_end()
        lines = data.split(b"\n")
        self._partial = lines.pop()
        return [line for line in lines if line.strip()]

    def close(self) -> None:
        self._close()


def request_host(line: bytes) -> str | None:
    """The Host of one access log entry (lower-case, without port), or None."""
    try:
        entry = json.loads(line)
        host = entry["request"]["host"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(host, str) or not host or host.startswith("["):
        return None
    return host.rsplit(":", 1)[0].lower() if ":" in host else host.lower()


async def pods_by_host(caddy: CaddyAdmin) -> dict[str, str]:
    """Host -> pod id, from the pod routes in Caddy's config."""
    found: dict[str, str] = {}
    for route in await caddy.routes():
        pod_id = pod_of_route(str(route.get("@id", "")))
        if pod_id is not None:
            for host in route_hosts(route):
                found[host.lower()] = pod_id
    return found


class EdgeAgent:
    def __init__(
        self,
        *,
        follower: LogFollower,
        caddy: CaddyAdmin,
        api: httpx.AsyncClient,
        interval: float,
        poll: float = 0.25,
    ) -> None:
        self._follower = follower
        self._caddy = caddy
        self._api = api
        self._interval = interval
        self._poll = poll
        self._hosts: set[str] = set()
        self._pending: set[str] = set()

    def _collect(self) -> None:
        for line in self._follower.read_lines():
            host = request_host(line)
            if host is not None:
                self._hosts.add(host)

    async def flush(self) -> None:
        """Maps the hosts seen to pods and reports them; failures are retried next time."""
        self._collect()
        if self._hosts:
            try:
                routes = await pods_by_host(self._caddy)
            except CaddyError as exc:
                log.warning("cannot read the routes from caddy: %s", exc)
            else:
                self._pending |= {routes[h] for h in self._hosts if h in routes}
                self._hosts.clear()
        if not self._pending:
            return
        pods = sorted(self._pending)
        for start in range(0, len(pods), MAX_BATCH):
            batch = pods[start : start + MAX_BATCH]
            try:
                response = await self._api.post(
                    "/v1/hosts/activity", json={"source": SOURCE, "pods": batch}
                )
            except httpx.HTTPError as exc:
                log.warning("cannot report activity of %d pods: %r", len(batch), exc)
                return
            if response.status_code != 200:
                log.warning(
                    "activity report refused: %s %s", response.status_code, response.text[:300]
                )
                if response.status_code < 500:
                    self._pending.difference_update(batch)  # it would be refused again
                return
            kept = response.json().get("kept_alive", [])
            log.info(
                "reported %d pods as active through the proxy (%d running)", len(batch), len(kept)
            )
            self._pending.difference_update(batch)

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        next_flush = loop.time() + self._interval
        while not stop.is_set():
            self._collect()
            if loop.time() >= next_flush:
                await self.flush()
                next_flush = loop.time() + self._interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._poll)
        await self.flush()


async def _run(settings: EdgeAgentSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    token = settings.edge_token.get_secret_value()
    follower = LogFollower(settings.edge_access_log)
    async with (
        CaddyAdmin(settings.caddy_admin_url, settings.edge_server) as caddy,
        httpx.AsyncClient(
            base_url=settings.public_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ) as api,
    ):
        agent = EdgeAgent(
            follower=follower,
            caddy=caddy,
            api=api,
            interval=settings.edge_report_interval.total_seconds(),
        )
        log.info(
            "edge agent following %s, reporting to %s every %gs",
            settings.edge_access_log,
            settings.public_url,
            settings.edge_report_interval.total_seconds(),
        )
        try:
            await agent.run(stop)
        finally:
            follower.close()


def run_edge_agent() -> None:
    settings = EdgeAgentSettings()
    configure_logging(settings.log_format)
    asyncio.run(_run(settings))
