"""A per-client sliding-window limiter for public endpoints (one per API process).

Good enough for one process behind a load balancer that pins nothing: each process
allows its share; a shared store is the step up when the API runs many replicas.
"""

from __future__ import annotations

import time
from collections import deque

from api.errors import ApiError


class RateLimiter:
    def __init__(
        self, limit: int, window_seconds: float = 60.0, max_clients: int = 100_000
    ) -> None:
        self._limit = limit
        self._window = window_seconds
        self._max_clients = max_clients
        self._hits: dict[str, deque[float]] = {}

    def check(self, client: str) -> None:
        """Counts a request from `client`; raises 429 when it is over the limit."""
        now = time.monotonic()
        hits = self._hits.setdefault(client, deque())
        while hits and hits[0] <= now - self._window:
            hits.popleft()
        if len(hits) >= self._limit:
            retry_after = max(1, int(hits[0] + self._window - now) + 1)
            raise ApiError(
                429,
                "rate_limited",
                f"too many requests; retry in {retry_after}s",
                {"retry_after_seconds": retry_after},
                headers={"Retry-After": str(retry_after)},
            )
        hits.append(now)
        if len(self._hits) > self._max_clients:
            self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - self._window}
