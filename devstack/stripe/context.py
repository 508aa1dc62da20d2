"""The emulator object that handlers reach through ``request.app``, and its settings."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from devstack.stripe.billing import Billing
from devstack.stripe.params import Params
from devstack.stripe.store import Store
from devstack.stripe.webhooks import EventBus


@dataclass
class Config:
    """Command-line settings of one emulator process."""

    host: str = "127.0.0.1"
    port: int = 12111
    public_url: str | None = None
    retry_delays: list[float] = field(default_factory=lambda: [1.0, 2.0, 4.0, 8.0, 16.0])
    webhook_timeout: float = 10.0
    rate_limit: float | None = None
    rate_burst: int = 25
    state_file: Path | None = None
    tick: float = 1.0

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


@dataclass
class RateLimiter:
    """A token bucket: ``rate`` requests a second with bursts up to ``burst``."""

    rate: float | None = None
    burst: int = 25
    tokens: float = 25.0
    stamp: float = field(default_factory=time.monotonic)

    def configure(self, rate: float | None, burst: int | None = None) -> None:
        self.rate = rate
        self.burst = burst or self.burst
        self.tokens = float(self.burst)
        self.stamp = time.monotonic()

    def allow(self) -> bool:
        if self.rate is None:
            return True
        now = time.monotonic()
        self.tokens = min(float(self.burst), self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class Emulator:
    """Everything one emulator process holds."""

    config: Config
    store: Store
    bus: EventBus
    billing: Billing
    limiter: RateLimiter
    dirty: bool = False
    stream_errors: list[dict[str, Any]] = field(default_factory=list)


EMULATOR = web.AppKey("stripe_emulator", Emulator)
PARAMS = "stripe_params"


def emulator(request: web.Request) -> Emulator:
    return request.app[EMULATOR]


def params(request: web.Request) -> Params:
    value = request.get(PARAMS)
    return value if isinstance(value, Params) else Params({})
