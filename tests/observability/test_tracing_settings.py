"""Tracing is on only with an OTLP endpoint, from our variable or the standard one."""

from __future__ import annotations

import pytest
from temporalio.contrib.opentelemetry import TracingInterceptor

from tenantry.observability.tracing import client_interceptors, tracer, traces_url
from tenantry.settings import CoreSettings


def test_no_endpoint_means_no_tracer_and_no_interceptor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TENANTRY_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    settings = CoreSettings()
    assert settings.otlp_endpoint is None
    assert tracer(settings, "tenantry-test") is None
    assert client_interceptors(settings, "tenantry-test") == []


def test_the_standard_variable_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TENANTRY_OTLP_ENDPOINT", raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    assert CoreSettings().otlp_endpoint == "http://collector:4318"
    monkeypatch.setenv("TENANTRY_OTLP_ENDPOINT", "http://ours:4318")
    settings = CoreSettings()
    assert settings.otlp_endpoint == "http://ours:4318"
    [interceptor] = client_interceptors(settings, "tenantry-test")
    assert isinstance(interceptor, TracingInterceptor)


def test_traces_url_is_the_otlp_http_path_under_the_base() -> None:
    assert traces_url("http://collector:4318") == "http://collector:4318/v1/traces"
    assert traces_url("http://collector:4318/") == "http://collector:4318/v1/traces"
    assert traces_url("http://c:4318/v1/traces") == "http://c:4318/v1/traces"
