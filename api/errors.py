"""The CONTRACT's error body, produced for every failure the API answers with.

`{"error": {"code": "...", "message": "...", "details": {...}}}`: a stable, machine-readable
`code` for programs, a `message` for people, `details` for the fields at fault.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
    503: "unavailable",
}


class ApiError(Exception):
    """Raised by handlers for any answer other than success."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details or {}
        self.headers = headers


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def _validation_details(exc: RequestValidationError) -> dict[str, Any]:
    fields = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        fields.append({"field": ".".join(loc) or "body", "message": err.get("msg", "invalid")})
    return {"fields": fields}


def _allowed_methods(request: Request) -> str:
    """Every method the path serves: Starlette's 405 names only the first matching
    route's (`/v1/pods` is two routes, GET and POST)."""
    path = request.url.path
    methods: set[str] = set()
    for route in _routes(request.app.router.routes):
        if route.methods and route.path_regex.match(path):
            methods |= route.methods
    return ", ".join(sorted(methods))


def _routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """The app's endpoints, through included routers however FastAPI nests them."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # FastAPI >= 0.16x keeps inclusions nested
            yield from _routes(route.original_router.routes)


def install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details), exc.status, headers=exc.headers
        )

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        details = _validation_details(exc)
        first = details["fields"][0] if details["fields"] else {"field": "body", "message": ""}
        message = f"{first['field']}: {first['message']}"
        return JSONResponse(error_body("invalid_input", message, details), 422)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _STATUS_CODES.get(exc.status_code, "error")
        headers = exc.headers
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": _allowed_methods(request)}
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=headers)

    async def on_data_error(request: Request, exc: Exception) -> JSONResponse:
        # The database refused a value the schemas let through (a NUL character, a
        # number out of a column's range): the input's fault, not the server's.
        log.warning(
            "%s %s: the database refused a value: %s", request.method, request.url.path, exc
        )
        return JSONResponse(
            error_body("invalid_input", "a value cannot be stored (e.g. a NUL character)"), 422
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Still a 500, but with the error body and no internals: the detail is logged.
        log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse(error_body("internal_error", "internal error"), 500)

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(DataError, on_data_error)
    app.add_exception_handler(Exception, on_unexpected)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
