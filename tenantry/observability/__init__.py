"""Observability shared by the API, the worker and the agents: logs and traces.

`logs` turns `TENANTRY_LOG_FORMAT=json` into one JSON object per line; `tracing` sends
OpenTelemetry spans over OTLP when an endpoint is set and does nothing otherwise. The
worker's Prometheus endpoints live in `worker/` because they read the worker's database.
"""
