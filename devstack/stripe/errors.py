"""Stripe's error bodies, raised from anywhere in the emulator as one exception type.

Handlers raise :class:`StripeError`; the middleware turns it into the JSON body and status
code Stripe would send, so the official client raises the same exception class it would
raise against the real API (``InvalidRequestError``, ``CardError``, ``IdempotencyError``...).
"""

from __future__ import annotations

from typing import Any

DOCS = "https://stripe.com/docs/error-codes"


class StripeError(Exception):
    """An API error with Stripe's ``type``, ``code``, ``param`` and HTTP status."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.headers = headers or {}

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"{DOCS}/{self.code.replace('_', '-')}"
        if self.param is not None:
            error["param"] = self.param
        if self.decline_code is not None:
            error["decline_code"] = self.decline_code
        if request_id is not None:
            error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        return {"error": error}


def missing(param: str) -> StripeError:
    return StripeError(f"Missing required param: {param}.", code="parameter_missing", param=param)


def unknown_param(param: str) -> StripeError:
    return StripeError(
        f"Received unknown parameter: {param}", code="parameter_unknown", param=param
    )


def invalid(param: str, message: str, code: str | None = None) -> StripeError:
    return StripeError(message, code=code, param=param)


def no_such(kind: str, object_id: str, param: str = "id") -> StripeError:
    return StripeError(
        f"No such {kind}: '{object_id}'", status=404, code="resource_missing", param=param
    )


def error_body(status: int, code: str, message: str) -> dict[str, Any]:
    """Error body for faults injected by ``devstack.faults`` (status, code, message)."""
    if status == 429:
        kind = "invalid_request_error"
    elif status == 402:
        kind = "card_error"
    elif status >= 500:
        kind = "api_error"
    elif code == "idempotency_error":
        kind = "idempotency_error"
    else:
        kind = "invalid_request_error"
    return StripeError(message, status=status, type=kind, code=code).body()
