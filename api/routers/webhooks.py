"""`POST /v1/stripe/webhook`: verified, deduplicated, routed."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import stripe
from fastapi import APIRouter, Header, Request

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.errors import ApiError
from api.responses import errors
from api.schemas.stripe import WebhookReceived
from api.stripe_events import handle_event

router = APIRouter(prefix="/v1/stripe", tags=["stripe"])

TOLERANCE_SECONDS = 300
WEBHOOK_PATH = "/v1/stripe/webhook"  # its own body limit (api/body_limit.py)


@router.post("/webhook", response_model=WebhookReceived, responses=errors(400, 413))
async def stripe_webhook(
    *,
    request: Request,
    settings: SettingsDep,
    temporal: TemporalDep,
    session: SessionDep,
    stripe_signature: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Verifies `Stripe-Signature` over the raw body (5-minute tolerance either way)."""
    payload = await request.body()
    if not stripe_signature:
        raise ApiError(400, "invalid_signature", "missing Stripe-Signature header")
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"),
            stripe_signature,
            settings.stripe_webhook_secret.get_secret_value(),
            tolerance=TOLERANCE_SECONDS,
        )
    except (stripe.SignatureVerificationError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_signature", f"signature verification failed: {exc}") from exc
    if _signed_at(stripe_signature) > time.time() + TOLERANCE_SECONDS:
        raise ApiError(400, "invalid_signature", "signature timestamp is in the future")
    try:
        event = json.loads(payload)
        event["id"], event["type"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ApiError(400, "invalid_event", "body is not a Stripe event") from exc
    outcome = await handle_event(event, session=session, temporal=temporal, settings=settings)
    return {"received": True, "outcome": outcome}


def _signed_at(header: str) -> int:
    for part in header.split(","):
        key, _, value = part.partition("=")
        if key.strip() == "t" and value.strip().isdigit():
            return int(value)
    return 0
