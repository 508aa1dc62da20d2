"""What each route may answer besides success, declared in the OpenAPI schema.

Every failure carries the error body of `api/errors.py`; `ErrorBody` is its schema, so a
client generated from `/openapi.json` knows the shape of a 404 as well as of a 200. Routes
name their statuses with `errors(401, 404, 409)`; FastAPI's own 422 schema
(`HTTPValidationError`) is replaced by this body, which is what the API really sends.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

DESCRIPTIONS = {
    400: "the request is malformed (e.g. a bad Stripe signature)",
    401: "missing or invalid credentials",
    402: "payment required: the free tier is used and there is no card or credit",
    403: "the credentials do not allow this",
    404: "no such resource (or not the caller's)",
    409: "conflicts with the resource's current state",
    413: "the request body is over the limit",
    422: "the input is invalid; `details.fields` names each field at fault",
    429: "too many requests; `Retry-After` says when to try again",
    502: "an upstream operation failed",
    503: "a dependency is unavailable now; try again",
}


class ErrorDetail(BaseModel):
    code: str = Field(description="stable and machine-readable, e.g. `not_found`")
    message: str = Field(description="for people")
    details: dict[str, Any] = Field(description="the fields at fault, or other context")


class ErrorBody(BaseModel):
    """Every non-2xx answer: `{"error": {"code", "message", "details"}}`."""

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"error": {"code": "not_found", "message": "pod not found", "details": {}}}
            ]
        }
    }

    error: ErrorDetail


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for `statuses`, each with the error body."""
    return {
        status: {"model": ErrorBody, "description": DESCRIPTIONS[status]} for status in statuses
    }


# What a route with a JSON body can always answer besides its own errors (400: a body
# that is not UTF-8, which FastAPI refuses before validation).
BODY = (400, 413, 422)


_FASTAPI_422 = "#/components/schemas/HTTPValidationError"
_ERROR_BODY = "#/components/schemas/ErrorBody"


def install_openapi(app: FastAPI) -> None:
    """The schema FastAPI builds, with its default 422 (`HTTPValidationError`, a shape
    this API never sends: `api/errors.py` answers validation errors with the error body)
    replaced by `ErrorBody` wherever a route did not declare its 422 itself."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            _replace_refs(schema.get("paths", {}))
            _unique_operation_ids(schema.get("paths", {}))
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
            schemas.setdefault("ErrorBody", ErrorBody.model_json_schema(ref_template=_REF))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


_REF = "#/components/schemas/{model}"


def _replace_refs(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("$ref") == _FASTAPI_422:
            node["$ref"] = _ERROR_BODY
        if node.get("description") == "Validation Error":
            node["description"] = DESCRIPTIONS[422]
        for value in node.values():
            _replace_refs(value)
    elif isinstance(node, list):
        for item in node:
            _replace_refs(item)


def _unique_operation_ids(paths: dict[str, Any]) -> None:
    """A route serving several methods (the edge's wake page) gets one operationId per
    method: FastAPI gives them all the same one, which OpenAPI forbids."""
    counts: dict[str, int] = {}
    for operations in paths.values():
        for operation in operations.values():
            op_id = operation.get("operationId")
            counts[op_id] = counts.get(op_id, 0) + 1
    for operations in paths.values():
        for method, operation in operations.items():
            op_id = operation.get("operationId")
            if op_id is not None and counts[op_id] > 1:
                operation["operationId"] = f"{op_id.rsplit('_', 1)[0]}_{method}"
