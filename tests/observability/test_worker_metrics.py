"""The worker's Prometheus endpoints and health check, scraped from a real worker process."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from db.models import Account, MeteringRun, Pod, Signup
from devstack.procs import free_port
from tenantry.settings import WorkerSettings
from tests.observability.support import scrape, wait_for_samples, worker_process


def _signup(status: str) -> Signup:
    return Signup(
        email="owner@example.com",
        subdomain=f"s{uuid.uuid4().hex[:10]}",
        tier="starter",
        status=status,
        status_token_hash="x",
    )


def _settings(
    database_url: str, temporal_address: str, task_queue: str, key: Path
) -> WorkerSettings:
    return WorkerSettings(
        env="test",
        ssh_key_path=key,
        route53_hosted_zone_id="Z0OBSERVABILITYTEST",  # no zone lookup: no DNS is used here
        database_url=database_url,
        temporal_address=temporal_address,
        task_queue=task_queue,
        worker_health_timeout=2,
    )


def test_worker_serves_temporal_metrics_and_product_gauges_from_the_database(
    db_engine: Engine,
    database_url: str,
    temporal_address: str,
    task_queue: str,
    control_plane_key: Path,
    tmp_path: Path,
) -> None:
    last_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    with Session(db_engine) as session, session.begin():
        account = Account(email="pods@example.com")
        session.add(account)
        session.flush()
        session.add_all([_signup("pending"), _signup("pending"), _signup("active")])
        session.add_all(
            [
                Pod(account_id=account.id, name="a", tier="dev.small", status="running"),
                Pod(account_id=account.id, name="b", tier="dev.small", status="hibernated"),
                Pod(account_id=account.id, name="c", tier="dev.small", status="hibernated"),
            ]
        )
        session.add(MeteringRun(hour=last_hour - timedelta(hours=1), records=0))
        session.add(MeteringRun(hour=last_hour, records=0))

    settings = _settings(database_url, temporal_address, task_queue, control_plane_key)
    with worker_process(settings, tmp_path / "worker.log") as worker:
        # The SDK's own exporter: client requests and worker polls.
        temporal = wait_for_samples(worker.metrics_url, "temporal_")
        names = {name for name, _ in temporal}
        assert any(n.startswith("temporal_request") for n in names), sorted(names)
        assert any(n.startswith("temporal_workflow_task") or "poll" in n for n in names), names

        product = scrape(worker.status_url)
        assert product[("tenantry_product_metrics_up", ())] == 1
        assert product[("tenantry_signups", (("status", "pending"),))] == 2
        assert product[("tenantry_signups", (("status", "active"),))] == 1
        assert product[("tenantry_signups", (("status", "failed"),))] == 0
        assert product[("tenantry_pods", (("status", "running"),))] == 1
        assert product[("tenantry_pods", (("status", "hibernated"),))] == 2
        assert product[("tenantry_usage_records_unreported", ())] == 0
        # The last metered hour closed 2 h (and the minutes of this hour) ago.
        expected = (datetime.now(UTC) - (last_hour + timedelta(hours=1))).total_seconds()
        lag = product[("tenantry_metering_lag_seconds", ())]
        assert expected - 30 < lag <= expected + 1, (lag, expected)

        # Gauges follow the database on every scrape.
        with Session(db_engine) as session, session.begin():
            session.add(_signup("active"))
        after = scrape(worker.status_url)
        assert after[("tenantry_signups", (("status", "active"),))] == 2

        health = httpx.get(f"{worker.status_url}/healthz", timeout=10)
        assert health.status_code == 200, health.text
        assert health.json() == {
            "status": "ok",
            "checks": {"worker": "ok", "database": "ok", "temporal": "ok"},
        }
        assert httpx.get(f"{worker.status_url}/nothing", timeout=10).status_code == 404


def test_health_is_503_and_gauges_down_when_the_database_does_not_answer(
    temporal_address: str, task_queue: str, control_plane_key: Path, tmp_path: Path
) -> None:
    closed = f"postgresql+psycopg://tenantry@127.0.0.1:{free_port()}/tenantry"
    settings = _settings(closed, temporal_address, task_queue, control_plane_key)
    with worker_process(settings, tmp_path / "worker.log") as worker:
        health = httpx.get(f"{worker.status_url}/healthz", timeout=20)
        assert health.status_code == 503, health.text
        checks = health.json()["checks"]
        assert checks["worker"] == "ok" and checks["temporal"] == "ok"
        assert checks["database"].startswith("unavailable"), checks

        product = scrape(worker.status_url)
        assert product[("tenantry_product_metrics_up", ())] == 0
        assert not any(name.startswith("tenantry_signups") for name, _ in product)
