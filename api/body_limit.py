"""Request body limits, enforced while the body arrives (ASGI middleware).

A handler that calls `await request.body()` (the Stripe webhook does, to verify the
signature over the raw bytes) would otherwise hold any body a client cares to send in
memory. This checks `Content-Length` before the app runs, and counts the chunks that
`receive()` hands over, so a chunked body (no length) is cut off as soon as it passes the
limit: the answer is 413 with the error body, and the rest is never read.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body


class BodyTooLarge(Exception):
    """Raised inside `receive()` once the body passes the limit."""


class BodyLimitMiddleware:
    def __init__(
        self, app: ASGIApp, *, default_limit: int, limits: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.default_limit = default_limit
        self.limits = limits or {}  # exact path -> limit (e.g. the Stripe webhook's)

    def limit_for(self, path: str) -> int:
        return self.limits.get(path, self.default_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(send, limit)
            return

        received = 0
        over = False  # the body passed the limit: whatever the app answers becomes 413
        started = False

        async def counting_receive() -> Message:
            nonlocal received, over
            if over:
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # The app may turn the exception into an answer of its own (FastAPI makes a
            # failed body read a 400): once over the limit, the answer is 413, once.
            nonlocal started
            if message["type"] == "http.response.start":
                if started:
                    return
                started = True
                if over:
                    await _too_large(send, limit)
                    return
            elif over:
                return
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            # BodyTooLarge, possibly wrapped (an ExceptionGroup from a middleware's task
            # group) or translated by the app: over the limit, it is a 413 all the same.
            if not over or started:
                raise
            started = True
            await _too_large(send, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps(
        error_body(
            "payload_too_large",
            f"the request body is over {limit} bytes",
            {"limit_bytes": limit},
        )
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
