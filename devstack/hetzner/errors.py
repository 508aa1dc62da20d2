"""The Hetzner Cloud error model: ``{"error": {"code", "message", "details"}}``.

Handlers raise :class:`HetznerError`; the app's middleware turns it into the real body and
status code, so every error path looks the same to the client.
"""

from __future__ import annotations

from typing import Any

# HTTP status per error code, as the real API answers them.
STATUS_BY_CODE: dict[str, int] = {
    "unauthorized": 401,
    "forbidden": 403,
    "token_readonly": 403,
    "invalid_input": 400,
    "json_error": 400,
    "not_found": 404,
    "method_not_allowed": 405,
    "uniqueness_error": 409,
    "conflict": 409,
    "server_not_stopped": 409,
    "invalid_server_type": 422,
    "locked": 423,
    "protected": 423,
    "rate_limit_exceeded": 429,
    "server_error": 500,
    "bad_gateway": 502,
    "service_error": 503,
    "maintenance": 503,
    "unavailable": 503,
    "timeout": 504,
}


class HetznerError(Exception):
    """An error answer of the API; ``code`` decides the status unless one is given."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.status = status or STATUS_BY_CODE.get(code, 400)
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.code, self.message, self.details)


def error_body(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The error body of the real API (also the fault injector's callback)."""
    del status  # the body does not repeat it
    return {"error": {"code": code, "message": message, "details": details}}


def invalid_input(fields: dict[str, str], message: str | None = None) -> HetznerError:
    """``invalid_input`` with ``details.fields`` naming each bad field, as the API does."""
    names = ", ".join(fields)
    return HetznerError(
        "invalid_input",
        message or f"invalid input in field{'s' if len(fields) > 1 else ''} '{names}'",
        details={"fields": [{"name": k, "messages": [v]} for k, v in fields.items()]},
    )


def not_found(what: str) -> HetznerError:
    return HetznerError("not_found", f"{what} not found")
