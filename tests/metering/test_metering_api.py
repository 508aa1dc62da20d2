"""Metering through the API and CLI: run an hour, read usage, reconcile; the schedule exists."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session
from temporalio.client import Client, ScheduleOverlapPolicy

from db.models import ApiKey
from db.session import make_engine
from tenantry.contracts.common import METERING_SCHEDULE_ID
from tenantry.crypto import generate_api_key
from tenantry.rules.metering import utc_hour
from tests.fixtures.api import ADMIN_TOKEN
from tests.fixtures.stack import Stack
from tests.metering.test_metering_stack import seed


def api_key_for(database_url: str, account_id: object) -> str:
    key = generate_api_key()
    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        session.add(ApiKey(account_id=account_id, prefix=key.prefix, key_hash=key.digest))
    engine.dispose()
    return key.plaintext


async def test_run_usage_and_reconciliation(
    stack: Stack, database_url: str, temporal_client: Client
) -> None:
    now = utc_hour(datetime.now(UTC))
    hour = max(now - timedelta(hours=2), now.replace(day=1, hour=0))
    if hour >= now:  # the first hour of a month: nothing closed in it yet
        hour = now - timedelta(hours=1)
    ids = seed(database_url, hour, pods=6)

    with stack.api.admin() as admin:
        first = admin.post("/v1/admin/metering/run", json={"hour": hour.isoformat()})
        assert first.status_code == 200, first.text
        assert first.json()["inserted"] > 0
        again = admin.post("/v1/admin/metering/run", json={"hour": hour.isoformat()})
        assert again.status_code == 200 and again.json()["inserted"] == 0
        for bad in (now.isoformat(), (hour + timedelta(minutes=5)).isoformat(), "yesterday"):
            response = admin.post("/v1/admin/metering/run", json={"hour": bad})
            assert response.status_code == 422, (bad, response.text)
        month = f"{hour:%Y-%m}"
        report = admin.get("/v1/admin/reconciliation", params={"month": month}).json()
    assert report["records"] > 0 and report["differences"] == []
    assert report["local_total"] == report["stripe_total"]

    owner_key = api_key_for(database_url, ids["owner"])
    with stack.api.client(owner_key) as http:
        usage = http.get("/v1/usage", params={"month": month}).json()
        assert http.get("/v1/usage", params={"month": "2026-13"}).status_code == 422
    assert usage["billed_account_id"] == str(ids["owner"])
    assert usage["by_tier"] and all(float(t["hours"]) > 0 for t in usage["by_tier"])
    assert 0 <= float(usage["free_hours_left"]) < 10
    assert float(usage["credits_usd"]) <= 100

    tenantry = str(Path(sys.executable).with_name("tenantry"))
    reconciled = subprocess.run(
        [tenantry, "usage", "reconcile", "--month", month, "--api-url", stack.api.url,
         "--token", ADMIN_TOKEN],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert reconciled.returncode == 0, reconciled.stderr
    assert "0 difference(s)" in reconciled.stdout

    schedule = await temporal_client.get_schedule_handle(METERING_SCHEDULE_ID).describe()
    assert schedule.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    assert schedule.schedule.policy.catchup_window == timedelta(days=7)
