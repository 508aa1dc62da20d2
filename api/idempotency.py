"""`Idempotency-Key` on creates, with Stripe's rules.

A create retried with the same key and the same body (by the same caller) gets the first
answer again, status and body, with `Idempotent-Replayed: true`, and does nothing twice;
the same key with another body or route is a 409. Keys are kept `KEY_TTL` (24 h) and
purged lazily. Two concurrent requests with one key do not both run: the second waits
for the first's answer (`db.repo.idempotency.claim`).

Keys are scoped by caller: an account (whichever of its API keys it uses), another bearer
credential (admin token, host credential) by its digest, a caller without one by its
address. Answers worth repeating are kept: successes and the 4xx a handler decided;
5xx, 401, 403 and 429 are not (a retry should run again), and nothing is kept from a
request that failed before its handler.

An ASGI middleware rather than a dependency, since it must see the whole response; the
routes it covers are listed in IDEMPOTENT_ROUTES, so no handler changes for it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import Headers
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body
from db.repo import idempotency as repo
from db.repo.accounts import key_and_account
from tenantry.crypto import API_KEY_PREFIX, hash_secret

HEADER = "idempotency-key"
MAX_KEY_LENGTH = 255
KEY_TTL = timedelta(hours=24)
UNKEPT_STATUSES = frozenset({401, 403, 429})

IDEMPOTENT_ROUTES = (
    "/v1/signups",
    "/v1/accounts",
    "/v1/accounts/verify",
    "/v1/keys",
    "/v1/pods",
    "/v1/team/invites",
    "/v1/billing/payment-method",
    "/v1/admin/accounts",
    "/v1/admin/accounts/{account_id}/credits",
    "/v1/admin/rollouts",
)
"""The creates (all POST) that honour `Idempotency-Key`."""

_PATTERNS = [compile_path(path)[0] for path in IDEMPOTENT_ROUTES]


def is_idempotent_route(method: str, path: str) -> bool:
    return method == "POST" and any(p.match(path) for p in _PATTERNS)


def request_hash(method: str, path: str, body: bytes) -> str:
    """SHA-256 of the request: JSON bodies canonically (key order and spacing do not
    make a retry "another body"), any other body as its bytes."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    return hashlib.sha256(f"{method} {path}\n".encode() + canonical).hexdigest()


async def caller_identity(session: AsyncSession, scope: Scope) -> str:
    """Who a key belongs to: `account:<id>`, `bearer:<digest>` or `client:<address>`."""
    authorization = Headers(scope=scope).get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token:
        if token.startswith(API_KEY_PREFIX):
            found = await key_and_account(session, hash_secret(token))
            if found is not None:
                return f"account:{found[1].id}"
        return f"bearer:{hash_secret(token)}"
    client = scope.get("client")
    return f"client:{client[0] if client else 'unknown'}"


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_idempotent_route(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        key = Headers(scope=scope).get(HEADER)
        if key is None:
            await self.app(scope, receive, send)
            return
        if not 1 <= len(key) <= MAX_KEY_LENGTH:
            await _send_json(
                send,
                422,
                error_body(
                    "invalid_input",
                    f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters",
                    {"fields": [{"field": "Idempotency-Key", "message": "bad length"}]},
                ),
            )
            return
        body = await _read_body(receive)
        sessions: async_sessionmaker[AsyncSession] = scope["app"].state.sessions
        expired_before = datetime.now(UTC) - KEY_TTL
        async with sessions() as session:
            await repo.purge_expired(session, expired_before)
            await session.commit()
            identity = await caller_identity(session, scope)
            digest = request_hash(scope["method"], scope["path"], body)
            stored = await repo.claim(
                session,
                identity=identity,
                key=key,
                method=scope["method"],
                path=scope["path"],
                request_hash=digest,
                expired_before=expired_before,
            )
            if stored is not None:
                await session.rollback()
                if stored.request_hash != digest:
                    await _send_json(
                        send,
                        409,
                        error_body(
                            "conflict",
                            "this Idempotency-Key was used with another request; "
                            "use a new key for a new request",
                            {"idempotency_key": key, "path": stored.path},
                        ),
                    )
                else:
                    await _replay(send, stored.status, stored.content_type, stored.body)
                return
            await self._run_and_keep(session, scope, body, send, identity, key)

    async def _run_and_keep(
        self,
        session: AsyncSession,
        scope: Scope,
        body: bytes,
        send: Send,
        identity: str,
        key: str,
    ) -> None:
        """Runs the handler with the key's row held; keeps the answer, then sends it."""
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)

        try:
            await self.app(scope, _replaying(body), capture)
        except BaseException:
            await session.rollback()
            raise
        start = next((m for m in messages if m["type"] == "http.response.start"), None)
        status = int(start["status"]) if start is not None else 500
        if 200 <= status < 500 and status not in UNKEPT_STATUSES and start is not None:
            content_type = Headers(raw=start.get("headers", [])).get("content-type")
            response = b"".join(
                m.get("body", b"") for m in messages if m["type"] == "http.response.body"
            )
            await repo.record(
                session,
                identity=identity,
                key=key,
                status=status,
                content_type=content_type,
                body=response,
            )
            await session.commit()
        else:
            await session.rollback()
        for message in messages:
            await send(message)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes) -> Receive:
    """A `receive` that hands the already-read body to the app once, then reports the
    client gone (the app reads nothing more from a create)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def _send_json(send: Send, status: int, payload: dict[str, Any]) -> None:
    await _replay(send, status, "application/json", json.dumps(payload).encode(), replayed=False)


async def _replay(
    send: Send, status: int, content_type: str | None, body: bytes | None, *, replayed: bool = True
) -> None:
    content = body or b""
    headers = [(b"content-length", str(len(content)).encode())]
    if content_type:
        headers.append((b"content-type", content_type.encode()))
    if replayed:
        headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
