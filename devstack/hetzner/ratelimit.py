"""The API's rate limit: a bucket per token that refills evenly over an hour.

Hetzner allows 3,600 requests per hour by default and gives one request back every
``3600 / limit`` seconds; ``RateLimit-Reset`` is the UNIX time at which the bucket is
full again. Every response carries the three ``RateLimit-*`` headers.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

HOUR = 3600.0


@dataclass
class _Bucket:
    remaining: float
    updated: float


@dataclass
class RateLimiter:
    """Buckets by token; ``limit`` can change at run time (admin config)."""

    limit: int = 3600
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def _refill(self, token: str, now: float) -> _Bucket:
        bucket = self._buckets.get(token)
        if bucket is None:
            bucket = self._buckets[token] = _Bucket(float(self.limit), now)
        rate = self.limit / HOUR
        bucket.remaining = min(float(self.limit), bucket.remaining + (now - bucket.updated) * rate)
        bucket.updated = now
        return bucket

    def take(self, token: str) -> tuple[bool, dict[str, str]]:
        """Spends one request if there is one; returns (allowed, headers)."""
        now = time.time()
        bucket = self._refill(token, now)
        allowed = bucket.remaining >= 1.0
        if allowed:
            bucket.remaining -= 1.0
        return allowed, self._headers(bucket, now)

    def _headers(self, bucket: _Bucket, now: float) -> dict[str, str]:
        rate = self.limit / HOUR
        missing = self.limit - bucket.remaining
        reset = now + (missing / rate if rate > 0 else 0.0)
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(max(0, math.floor(bucket.remaining))),
            "RateLimit-Reset": str(math.ceil(reset)),
        }

    def set_limit(self, limit: int) -> None:
        """Changes the limit; buckets start full at the new limit."""
        self.limit = limit
        self._buckets.clear()

    def reset(self) -> None:
        self._buckets.clear()
