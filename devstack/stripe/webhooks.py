"""Events and their delivery to webhook endpoints, signed and retried like Stripe does.

Each event goes to every enabled endpoint whose ``enabled_events`` match it, as a POST
with ``Stripe-Signature: t=<unix time>,v1=<HMAC-SHA256(secret, "t.payload")>``. A non-2xx
answer or a connection failure is retried on a compressed schedule (``--webhook-retry-
delays``) instead of Stripe's three days. ``pending_webhooks`` counts endpoints that have
not yet acknowledged the event, which is what ``delivery_success=false`` filters on.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from devstack.stripe.objects import public
from devstack.stripe.store import Obj, Store, new_id

API_VERSION = "2026-10-28.endive"

log = logging.getLogger("devstack.stripe.webhooks")


@dataclass
class RequestContext:
    """What an event records about the API request that caused it."""

    request_id: str | None = None
    idempotency_key: str | None = None
    api_version: str = API_VERSION


REQUEST: ContextVar[RequestContext | None] = ContextVar("stripe_request", default=None)


def sign(payload: str, secret: str, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def matches(endpoint: Obj, event_type: str) -> bool:
    enabled = endpoint.get("enabled_events") or []
    return endpoint.get("status") == "enabled" and ("*" in enabled or event_type in enabled)


@dataclass
class Attempt:
    """One delivery attempt, as ``GET /_admin/deliveries`` shows it."""

    event: str
    endpoint: str
    attempt: int
    at: float
    status: int | None
    error: str | None
    ok: bool


@dataclass
class EventBus:
    """Creates events and runs their deliveries as background tasks."""

    store: Store
    retry_delays: list[float] = field(default_factory=lambda: [1.0, 2.0, 4.0, 8.0])
    timeout: float = 10.0
    attempts: list[Attempt] = field(default_factory=list)
    _session: aiohttp.ClientSession | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._session is not None:
            await self._session.close()

    def reset(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self.attempts.clear()

    def emit(
        self,
        event_type: str,
        data_object: Obj,
        *,
        previous: dict[str, Any] | None = None,
        created: int | None = None,
    ) -> Obj:
        ctx = REQUEST.get() or RequestContext()
        data: dict[str, Any] = {"object": data_object}
        if previous:
            data["previous_attributes"] = previous
        endpoints = [e for e in self.store.all("webhook_endpoint") if matches(e, event_type)]
        event = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": ctx.api_version,
            "created": created if created is not None else self.store.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": len(endpoints),
            "request": {"id": ctx.request_id, "idempotency_key": ctx.idempotency_key},
            "type": event_type,
            "_pending": [e["id"] for e in endpoints],
        }
        self.store.add("event", event)
        for endpoint in endpoints:
            self.schedule(str(event["id"]), str(endpoint["id"]))
        return event

    def schedule(self, event_id: str, endpoint_id: str, *, retries: bool = True) -> None:
        task = asyncio.get_running_loop().create_task(
            self._deliver(event_id, endpoint_id, retries=retries)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, event_id: str, endpoint_id: str, *, retries: bool) -> None:
        delays = self.retry_delays if retries else []
        for attempt in range(len(delays) + 1):
            event = self.store.find("event", event_id)
            endpoint = self.store.find("webhook_endpoint", endpoint_id)
            if event is None or endpoint is None:
                return
            if await self._attempt(event, endpoint, attempt + 1):
                return
            if attempt < len(delays):
                await asyncio.sleep(delays[attempt])

    async def _attempt(self, event: Obj, endpoint: Obj, number: int) -> bool:
        assert self._session is not None
        payload = json.dumps(public(event), indent=2)
        now = int(time.time())  # signatures use wall time: receivers check it against theirs
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": sign(payload, endpoint["_secret"], now),
        }
        status: int | None = None
        error: str | None = None
        try:
            async with self._session.post(endpoint["url"], data=payload, headers=headers) as r:
                status = r.status
                await r.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        ok = status is not None and 200 <= status < 300
        self.attempts.append(
            Attempt(event["id"], endpoint["id"], number, time.time(), status, error, ok)
        )
        if ok and endpoint["id"] in event["_pending"]:
            event["_pending"].remove(endpoint["id"])
            event["pending_webhooks"] = len(event["_pending"])
        log.info(
            "webhook %s -> %s attempt %d: %s",
            event["type"],
            endpoint["url"],
            number,
            status or error,
        )
        return ok

    def redeliver(self, event_id: str, endpoint_id: str | None = None) -> list[str]:
        """Sends an event again (to one endpoint, or all that match), like the Dashboard."""
        event = self.store.get("event", event_id)
        targets = [
            e
            for e in self.store.all("webhook_endpoint")
            if (endpoint_id is None and matches(e, event["type"])) or e["id"] == endpoint_id
        ]
        for endpoint in targets:
            if endpoint["id"] not in event["_pending"]:
                event["_pending"].append(endpoint["id"])
                event["pending_webhooks"] = len(event["_pending"])
            self.schedule(event_id, endpoint["id"], retries=False)
        return [e["id"] for e in targets]
