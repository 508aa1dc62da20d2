"""Helpers for the observability tests: a `tenantry worker` process on its own ports, a
Prometheus text scrape, and a tiny OTLP/HTTP receiver that keeps the spans it is sent."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from prometheus_client.parser import text_string_to_metric_families

from devstack.procs import ManagedProcess, distinct_free_ports, free_port
from tenantry.settings import WorkerSettings


@dataclass
class WorkerProcess:
    process: ManagedProcess
    metrics_url: str  # the SDK's exporter
    status_url: str  # product gauges and /healthz
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def worker_process(settings: WorkerSettings, log_path: Path) -> Iterator[WorkerProcess]:
    """A real `tenantry worker` with these settings, metrics and status on free ports."""
    metrics, status = (f"127.0.0.1:{p}" for p in distinct_free_ports(2))
    tenantry = Path(sys.executable).with_name("tenantry")
    process = ManagedProcess(
        name="worker",
        argv=[str(tenantry), "worker"],
        log_path=log_path,
        env={
            **settings.to_env(),
            "TENANTRY_WORKER_METRICS_ADDRESS": metrics,
            "TENANTRY_WORKER_STATUS_ADDRESS": status,
            "PYTHONUNBUFFERED": "1",
        },
        ready=lambda: log_path.exists() and "worker polling" in log_path.read_text(),
        ready_timeout=60,
    ).start()
    try:
        yield WorkerProcess(process, f"http://{metrics}", f"http://{status}", log_path)
    finally:
        process.stop()


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """`{(sample name, sorted labels): value}` from a Prometheus text endpoint."""
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def wait_for_samples(
    url: str, prefix: str, timeout: float = 30
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """A scrape that holds at least one sample named `prefix...`."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(url)
        if any(name.startswith(prefix) for name, _ in samples):
            return samples
        assert time.monotonic() < deadline, f"no {prefix}* sample at {url}: {sorted(samples)}"
        time.sleep(0.5)


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str


@dataclass
class OtlpReceiver:
    """Collects what OTLP/HTTP exporters POST to /v1/traces (protobuf)."""

    url: str
    spans: list[ReceivedSpan] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> list[ReceivedSpan]:
        with self.lock:
            return list(self.spans)


@contextmanager
def otlp_receiver() -> Iterator[OtlpReceiver]:
    port = free_port()
    receiver = OtlpReceiver(url=f"http://127.0.0.1:{port}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            request = ExportTraceServiceRequest.FromString(body)
            received = []
            for resource_spans in request.resource_spans:
                service = next(
                    (
                        a.value.string_value
                        for a in resource_spans.resource.attributes
                        if a.key == "service.name"
                    ),
                    "",
                )
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        received.append(
                            ReceivedSpan(
                                service=service,
                                name=span.name,
                                trace_id=span.trace_id.hex(),
                                span_id=span.span_id.hex(),
                                parent_span_id=span.parent_span_id.hex(),
                            )
                        )
            with receiver.lock:
                receiver.spans.extend(received)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, name="otlp", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
