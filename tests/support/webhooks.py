"""Delivering Stripe events to the API ourselves, signed with the real scheme."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx


def signature(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def deliver(
    api_url: str, event: dict[str, Any], secret: str, *, timestamp: int | None = None
) -> httpx.Response:
    payload = json.dumps(event).encode()
    return httpx.post(
        f"{api_url}/v1/stripe/webhook",
        content=payload,
        headers={
            "Content-Type": "application/json",
            "Stripe-Signature": signature(payload, secret, timestamp),
        },
        timeout=30,
    )
