"""The OpenAPI schema says what the API really answers: the error body on every error
status, a model for every JSON answer, an example for every request body."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from api.app import create_app
from tests.fixtures.api import api_settings

ERROR_REF = "#/components/schemas/ErrorBody"
AUTHENTICATED = ("/v1/admin/", "/v1/pods", "/v1/team", "/v1/usage", "/v1/hosts/", "/v1/billing")


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FastAPI warns of the wake route's shared id
        return create_app(api_settings()).openapi()


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, ops in schema["paths"].items() for m, op in ops.items()]


def test_no_fastapi_validation_error_shape(schema: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in str(schema)
    assert "ValidationError" not in schema["components"]["schemas"]


def test_every_error_status_carries_the_error_body(schema: dict[str, Any]) -> None:
    for method, path, op in operations(schema):
        for status, response in op["responses"].items():
            if int(status) < 400 or path == "/v1/edge/wake":  # wake answers HTML pages
                continue
            content = response.get("content", {})
            ref = content.get("application/json", {}).get("schema", {}).get("$ref")
            assert ref == ERROR_REF, (method, path, status, response)


def test_authenticated_routes_declare_401_and_bodies_413_422(schema: dict[str, Any]) -> None:
    for method, path, op in operations(schema):
        if path.startswith(AUTHENTICATED):
            assert "401" in op["responses"], (method, path)
        if "requestBody" in op:
            assert {"413", "422"} <= set(op["responses"]), (method, path)


def test_every_json_answer_has_a_schema(schema: dict[str, Any]) -> None:
    for method, path, op in operations(schema):
        for status, response in op["responses"].items():
            json_content = response.get("content", {}).get("application/json")
            if json_content is not None:
                assert json_content.get("schema"), (method, path, status)


def test_every_request_body_has_an_example(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    for method, path, op in operations(schema):
        if "requestBody" not in op:
            continue
        body_schema = op["requestBody"]["content"]["application/json"]["schema"]
        refs = [body_schema.get("$ref")] + [s.get("$ref") for s in body_schema.get("anyOf", [])]
        names = [r.rsplit("/", 1)[1] for r in refs if r]
        assert names, (method, path, body_schema)
        for name in names:
            assert components[name].get("examples"), (method, path, name)


def test_billing_routes_and_the_402_of_pod_starts_are_declared(schema: dict[str, Any]) -> None:
    paths = schema["paths"]
    assert {"401", "403", "503"} <= set(paths["/v1/billing/payment-method"]["post"]["responses"])
    assert {"401", "403", "404", "422"} <= set(paths["/v1/billing/invoices"]["get"]["responses"])
    assert "200" in paths["/v1/billing/portal"]["get"]["responses"]
    assert "402" in paths["/v1/pods"]["post"]["responses"]
    assert "402" in paths["/v1/pods/{pod_id}/restore"]["post"]["responses"]
