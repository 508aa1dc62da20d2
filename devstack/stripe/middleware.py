"""What every Stripe API request goes through: auth, rate limit, params, idempotency.

Order matters and follows Stripe: a request with a bad key or over the rate limit never
reaches the idempotency layer, and only a request whose endpoint started executing saves
its result under the ``Idempotency-Key`` (2xx, card errors and 5xx), so a retry after a
dropped connection replays the first answer instead of acting twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from aiohttp import web

from devstack.faults import Handler
from devstack.stripe.context import PARAMS, emulator
from devstack.stripe.errors import StripeError
from devstack.stripe.params import Params, decode
from devstack.stripe.store import IdempotencyEntry, new_id
from devstack.stripe.webhooks import API_VERSION, REQUEST, RequestContext

log = logging.getLogger("devstack.stripe")

IDEMPOTENCY_TTL = 24 * 3600
SAVED = (402,)


def dumps(body: Any) -> str:
    return json.dumps(body, indent=2)


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(text=dumps(body), status=status, content_type="application/json")


def error_response(err: StripeError, request_id: str) -> web.Response:
    response = json_response(err.body(request_id), err.status)
    response.headers.update(err.headers)
    return response


def _is_api(path: str) -> bool:
    return path.startswith(("/v1/", "/v2/"))


def _auth(request: web.Request) -> None:
    header = request.headers.get("Authorization", "")
    key = ""
    if header.startswith("Bearer "):
        key = header[7:].strip()
    elif header.startswith("Basic "):
        import base64

        try:
            key = base64.b64decode(header[6:]).decode().split(":", 1)[0]
        except (ValueError, UnicodeDecodeError):
            key = ""
    if request.path == "/v2/billing/meter_event_stream":
        sessions = emulator(request).store.table("v2.billing.meter_event_session")
        token = next((s for s in sessions.values() if s["authentication_token"] == key), None)
        if token is None:
            raise StripeError(
                "Invalid meter event session token.", status=401, type="invalid_request_error"
            )
        if token["_expires"] <= emulator(request).store.now():
            raise StripeError(
                "The meter event session has expired; create a new one.",
                status=401,
                type="temporary_session_expired",
                code="billing_meter_event_session_expired",
            )
        return
    if not key:
        raise StripeError(
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
            "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, "
            "or we can help at https://support.stripe.com/.",
            status=401,
        )
    if not key.startswith(("sk_test_", "rk_test_")) or len(key) <= len("sk_test_"):
        shown = f"{key[:8]}{'*' * max(0, len(key) - 12)}{key[-4:]}" if len(key) > 12 else key
        raise StripeError(f"Invalid API Key provided: {shown}", status=401)


async def _params(request: web.Request) -> Params:
    pairs = list(request.query.items())
    if request.method == "POST":
        if request.path.startswith("/v2/"):
            raw = await request.read()
            try:
                body = json.loads(raw) if raw.strip() else {}
            except ValueError:
                raise StripeError("Invalid JSON body.") from None
            if not isinstance(body, dict):
                raise StripeError("Invalid JSON body: expected an object.")
            return Params({**decode(pairs), **body})
        form = await request.post()
        pairs += [(k, v) for k, v in form.items() if isinstance(v, str)]
    return Params(decode(pairs))


def _fingerprint(p: Params) -> str:
    return hashlib.sha256(json.dumps(p.data, sort_keys=True).encode()).hexdigest()


@web.middleware
async def stripe_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not _is_api(request.path):
        return await handler(request)
    emu = emulator(request)
    request_id = new_id("req", 14)
    idem_key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
    version = request.headers.get("Stripe-Version") or API_VERSION
    token = REQUEST.set(RequestContext(request_id, idem_key, version))
    try:
        response = await _handle(request, handler, request_id, idem_key)
    finally:
        REQUEST.reset(token)
    response.headers["Request-Id"] = request_id
    response.headers["Stripe-Version"] = version
    if idem_key:
        response.headers["Idempotency-Key"] = idem_key
    if request.method != "GET":
        emu.dirty = True
    return response


async def _handle(
    request: web.Request, handler: Handler, request_id: str, idem_key: str | None
) -> web.StreamResponse:
    emu = emulator(request)
    try:
        _auth(request)
        if not emu.limiter.allow():
            raise StripeError(
                "Request rate limit exceeded. Learn more about rate limits here "
                "https://stripe.com/docs/rate-limits.",
                status=429,
                code="rate_limit",
            )
        p = await _params(request)
        request[PARAMS] = p
    except StripeError as err:
        return error_response(err, request_id)
    if not idem_key:
        return await _run(request, handler, request_id)
    store = emu.store
    now = store.now()
    entry = store.idempotency.get(idem_key)
    if entry is not None and entry.created + IDEMPOTENCY_TTL <= now:
        store.idempotency.pop(idem_key, None)
        entry = None
    fingerprint = _fingerprint(p)
    if entry is not None:
        return _replay(entry, request, idem_key, fingerprint, request_id)
    entry = IdempotencyEntry(request.method, request.path, fingerprint, now)
    store.idempotency[idem_key] = entry
    try:
        response = await _run(request, handler, request_id)
    except BaseException:
        # Cancelled mid-way (client gone): no result to save, so a retry may run again.
        store.idempotency.pop(idem_key, None)
        raise
    if isinstance(response, web.Response) and (
        response.status < 300 or response.status in SAVED or response.status >= 500
    ):
        entry.status = response.status
        entry.body = response.text or ""
    else:
        store.idempotency.pop(idem_key, None)
    return response


def _replay(
    entry: IdempotencyEntry,
    request: web.Request,
    key: str,
    fingerprint: str,
    request_id: str,
) -> web.Response:
    if (entry.method, entry.path) != (request.method, request.path):
        err = StripeError(
            "Keys for idempotent requests can only be used for the same endpoint they were "
            f"first used for ('{entry.method} {entry.path}' vs '{request.method} "
            f"{request.path}'). Try using a key other than '{key}' if you meant to execute a "
            "different request.",
            type="idempotency_error",
        )
        return error_response(err, request_id)
    if entry.fingerprint != fingerprint:
        err = StripeError(
            "Keys for idempotent requests can only be used with the same parameters they were "
            f"first used with. Try using a key other than '{key}' if you meant to execute a "
            "different request.",
            type="idempotency_error",
        )
        return error_response(err, request_id)
    if entry.status is None:
        err = StripeError(
            "There is currently another in-progress request using this Stripe-Idempotency-Key "
            "(that probably means you submitted twice, and the other request is still going "
            "through): " + key + ". Please try again later.",
            status=409,
            code="idempotency_key_in_use",
        )
        return error_response(err, request_id)
    response = web.Response(text=entry.body, status=entry.status, content_type="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response


async def _run(request: web.Request, handler: Handler, request_id: str) -> web.StreamResponse:
    try:
        return await handler(request)
    except StripeError as err:
        return error_response(err, request_id)
    except web.HTTPNotFound:
        missing_route = StripeError(
            f"Unrecognized request URL ({request.method}: {request.path}). Please see "
            "https://stripe.com/docs or we can help at https://support.stripe.com/.",
            status=404,
        )
        return error_response(missing_route, request_id)
    except web.HTTPMethodNotAllowed:
        bad_method = StripeError(
            f"Unrecognized request URL ({request.method}: {request.path}). Please see "
            "https://stripe.com/docs or we can help at https://support.stripe.com/.",
            status=404,
        )
        return error_response(bad_method, request_id)
    except Exception:
        log.exception("handler failed: %s %s", request.method, request.path)
        internal = StripeError(
            "An unknown error occurred", status=500, type="api_error", code="internal_error"
        )
        return error_response(internal, request_id)
