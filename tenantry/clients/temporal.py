"""The Temporal client, built one way for every process (API, worker, CLI, tests)."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime

from tenantry.observability.tracing import client_interceptors
from tenantry.settings import CoreSettings

DATA_CONVERTER: DataConverter = pydantic_data_converter
"""Pydantic models cross every Temporal boundary as JSON; every client and replayer uses it."""


async def connect(
    settings: CoreSettings,
    *,
    lazy: bool = False,
    runtime: Runtime | None = None,
    service: str = "tenantry",
) -> Client:
    """Connects to Temporal; `lazy` defers the connection to the first call (the API
    starts, and reports not-ready, while Temporal is still coming up). `runtime` carries
    the worker's metrics exporter; with tracing on, spans are reported as `service`."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=DATA_CONVERTER,
        lazy=lazy,
        interceptors=client_interceptors(settings, service),
        runtime=runtime,
    )
