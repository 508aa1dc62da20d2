"""The Temporal client, built one way for every process (API, worker, CLI, tests).

TLS and the API key come from settings, so the same code reaches the dev server in
plain text, a self-hosted cluster over mTLS (client certificate, private CA, a server
name that differs from the address) and Temporal Cloud (mTLS or an API key).
"""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from tenantry.observability.tracing import client_interceptors
from tenantry.settings import CoreSettings

DATA_CONVERTER: DataConverter = pydantic_data_converter
"""Pydantic models cross every Temporal boundary as JSON; every client and replayer uses it."""


def _read(path: Path | None, setting: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValueError(f"TENANTRY_{setting.upper()}={path}: {exc.strerror}") from exc


def tls_config(settings: CoreSettings) -> TLSConfig | bool:
    """TLS as the settings ask for it: False for plain text, else a `TLSConfig` (an empty
    one verifies the server against the system's CAs)."""
    if not settings.temporal_uses_tls:
        return False
    return TLSConfig(
        server_root_ca_cert=_read(settings.temporal_tls_ca_path, "temporal_tls_ca_path"),
        client_cert=_read(settings.temporal_tls_cert_path, "temporal_tls_cert_path"),
        client_private_key=_read(settings.temporal_tls_key_path, "temporal_tls_key_path"),
        domain=settings.temporal_tls_server_name,
    )


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
    api_key = settings.temporal_api_key
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=DATA_CONVERTER,
        tls=tls_config(settings),
        api_key=api_key.get_secret_value() if api_key is not None else None,
        lazy=lazy,
        interceptors=client_interceptors(settings, service),
        runtime=runtime,
    )
