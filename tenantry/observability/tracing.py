"""OpenTelemetry traces from the API through Temporal to activities, exported over OTLP.

With no OTLP endpoint configured nothing is built and no span leaves the process. With
one, each process gets a tracer provider (service name `tenantry-api`, `tenantry-worker`)
with a batch exporter over OTLP/HTTP, and Temporal's `TracingInterceptor` on its client
carries the trace context in workflow and activity headers. The provider is kept per
process and endpoint, not installed globally, so tests can run several apps side by side.
"""

from __future__ import annotations

import functools

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Tracer
from temporalio.client import Interceptor
from temporalio.contrib.opentelemetry import TracingInterceptor

from tenantry.settings import CoreSettings

TRACER_NAME = "tenantry"


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL for a collector base URL (as OTEL_EXPORTER_OTLP_ENDPOINT)."""
    base = endpoint.rstrip("/")
    return base if base.endswith("/v1/traces") else f"{base}/v1/traces"


@functools.cache
def _provider(endpoint: str, service: str) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(traces_url(endpoint))))
    return provider


def tracer_provider(settings: CoreSettings, service: str) -> TracerProvider | None:
    """This process's provider for `service`, or None when tracing is off."""
    if not settings.otlp_endpoint:
        return None
    return _provider(settings.otlp_endpoint, service)


def tracer(settings: CoreSettings, service: str) -> Tracer | None:
    provider = tracer_provider(settings, service)
    return provider.get_tracer(TRACER_NAME) if provider is not None else None


def client_interceptors(settings: CoreSettings, service: str) -> list[Interceptor]:
    """Temporal client interceptors: the tracing one when tracing is on (it also applies to
    a worker built on that client)."""
    spans = tracer(settings, service)
    return [TracingInterceptor(spans)] if spans is not None else []


def flush_tracing(settings: CoreSettings, service: str) -> None:
    """Sends the spans still queued (an app that stops while its process goes on)."""
    provider = tracer_provider(settings, service)
    if provider is not None:
        provider.force_flush()


def shutdown_tracing(settings: CoreSettings, service: str) -> None:
    """Flushes and stops the exporter (a stopping process sends its last spans)."""
    provider = tracer_provider(settings, service)
    if provider is not None:
        provider.shutdown()
        _provider.cache_clear()
