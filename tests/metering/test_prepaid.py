"""Prepaid credits on the real stack: real pods on real hosts, a real worker, Temporal,
PostgreSQL, the Stripe emulator and the mail sink.

Two prepaid accounts run out in the same metering run. One (with a team member) is mailed
once and, after the grace period, has every running pod hibernated with the reason
`credits`; the other tops up during its grace period and keeps its pod running. Metering
the hour again deducts nothing and mails nobody.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.worker import Replayer

from db.models import CreditEntry, PodEvent
from db.session import make_engine
from tenantry.clients.temporal import DATA_CONVERTER
from tenantry.contracts.common import SA_ACCOUNT_ID, SA_STAGE, credits_workflow_id
from tenantry.rules.metering import FREE_SECONDS_PER_MONTH, month_start, utc_hour
from tests.api.test_team import _invite
from tests.fixtures.api import ADMIN_TOKEN
from tests.fixtures.stack import Stack
from tests.support.pods import create, status, wait
from tests.support.poll import eventually_async
from worker.registry import workflows

GRACE = 15  # seconds
DEPLETED = "credits are used up"
REPLAY = Path(__file__).parents[1] / "replay" / "histories"


def a_closed_hour_after_the_free_tier() -> datetime:
    """A closed hour with room before it, in its month, to use up the free tier."""
    hour = utc_hour(datetime.now(UTC)) - timedelta(hours=1)
    free_hours = FREE_SECONDS_PER_MONTH // 3600
    if hour - timedelta(hours=free_hours + 1) < month_start(hour):
        hour = month_start(hour) - timedelta(hours=1)  # the last hour of the month before
    return hour


def running_since(database_url: str, pod_ids: list[str], since: datetime) -> None:
    """Pod runtime in the past, as `PodWorkflow` records it: a `running` event at `since`."""
    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        for pod_id in pod_ids:
            session.add(
                PodEvent(pod_id=uuid.UUID(pod_id), kind="running", tier="dev.small", at=since)
            )
    engine.dispose()


def account(stack: Stack, email: str) -> tuple[str, str]:
    with stack.api.admin() as admin:
        response = admin.post("/v1/admin/accounts", json={"email": email})
    assert response.status_code == 201, response.text
    return response.json()["account_id"], response.json()["api_key"]


def join_team(stack: Stack, owner_key: str, member_key: str, member_email: str) -> None:
    """The member joins the owner's team with the mailed invite token."""
    token = _invite(stack.api, owner_key, member_email, stack.mailbox)
    with stack.api.client(member_key) as http:
        joined = http.post("/v1/team/join", json={"token": token})
    assert joined.status_code == 200, joined.text


def top_up(stack: Stack, account_id: str, amount: str, reference: str) -> Any:
    with stack.api.admin() as admin:
        return admin.post(
            f"/v1/admin/accounts/{account_id}/credits",
            json={"amount_usd": amount, "reference": reference},
        )


def ledger_size(database_url: str) -> int:
    engine = make_engine(database_url)
    with Session(engine) as session:
        count = session.scalar(select(func.count()).select_from(CreditEntry))
    engine.dispose()
    return int(count or 0)


async def stage_of(client: Client, account_id: str) -> tuple[str | None, str | None, Any]:
    described = await client.get_workflow_handle(credits_workflow_id(account_id)).describe()
    attrs = described.typed_search_attributes
    return attrs.get(SA_STAGE), attrs.get(SA_ACCOUNT_ID), described.status


async def wait_stage(client: Client, account_id: str, wanted: str, timeout: float = 60) -> None:
    await eventually_async(
        lambda: stage_of(client, account_id),
        until=lambda found: found[0] == wanted,
        timeout=timeout,
        what=lambda found: f"credits-{account_id} is {found}, not {wanted}",
        interval=0.2,
    )


async def test_an_empty_balance_mails_once_then_hibernates_unless_topped_up(
    stack_factory: Callable[..., Stack], database_url: str, temporal_client: Client
) -> None:
    stack = stack_factory(pods=True, credits_grace=GRACE)
    stack.register_pod_hosts()
    run = uuid.uuid4().hex[:6]
    owner_email, solo_email = f"broke-{run}@example.com", f"saved-{run}@example.com"
    owner, owner_key = account(stack, owner_email)
    member_email = f"member-{run}@example.com"
    member, member_key = account(stack, member_email)
    solo, solo_key = account(stack, solo_email)
    join_team(stack, owner_key, member_key, member_email)

    # Top-ups: once per reference, for the billed account only, with the CONTRACT's errors.
    first = top_up(stack, owner, "0.005", "seed-1")
    assert first.status_code == 201, first.text
    assert first.json()["applied"] is True and Decimal(first.json()["balance_usd"]) == Decimal(
        "0.005"
    )
    again = top_up(stack, owner, "0.005", "seed-1")
    assert again.status_code == 200 and again.json()["applied"] is False
    assert again.json()["entry_id"] == first.json()["entry_id"]
    for account_id, amount, reference, code in [
        (owner, "0.006", "seed-1", 409),  # the reference was used for another amount
        (member, "1", "m-1", 409),  # a member's usage is billed to the owner
        (str(uuid.uuid4()), "1", "x-1", 404),
        (owner, "0", "zero", 422),
        (owner, "-1", "negative", 422),
        (owner, "1", "", 422),
    ]:
        refused = top_up(stack, account_id, amount, reference)
        assert refused.status_code == code, (amount, reference, refused.text)
        assert refused.json()["error"]["code"] in ("conflict", "not_found", "invalid_input")
    assert top_up(stack, solo, "0.005", "seed-1").status_code == 201  # references are per account

    # Real pods on the real hosts: two in the owner's team, one for the solo account.
    pods = {
        "owner": create(stack, owner_key, "owner-pod"),
        "member": create(stack, member_key, "member-pod"),
        "solo": create(stack, solo_key, "solo-pod"),
    }
    keys = {"owner": owner_key, "member": member_key, "solo": solo_key}
    for who, pod_id in pods.items():
        pod = wait(stack, keys[who], pod_id, status("running", "failed"), timeout=90)
        assert pod["status"] == "running", pod["error"]

    # They ran from 11 hours before a closed hour: the free tier is used up by then, so
    # that hour costs $0.008 a pod. The team: 0.005 - 0.016; the solo account: 0.005 - 0.008.
    hour = a_closed_hour_after_the_free_tier()
    running_since(database_url, list(pods.values()), hour - timedelta(hours=11))
    entries = ledger_size(database_url)
    with stack.api.admin() as admin:
        metered = admin.post("/v1/admin/metering/run", json={"hour": hour.isoformat()})
    assert metered.status_code == 200, metered.text
    assert metered.json()["inserted"] >= 3
    assert ledger_size(database_url) == entries + 3

    # Each owner is mailed once; the solo account tops up during its grace period.
    mail = await stack.mailbox.wait_for_async(to=owner_email, subject_contains=DEPLETED, timeout=30)
    assert "-0.01 USD" in mail.body and "hibernated" in mail.body
    await stack.mailbox.wait_for_async(to=solo_email, subject_contains=DEPLETED, timeout=30)
    assert await stage_of(temporal_client, solo) == ("grace", solo, WorkflowExecutionStatus.RUNNING)
    saved = top_up(stack, solo, "1.00", "card-payment-1")
    assert saved.status_code == 201 and Decimal(saved.json()["balance_usd"]) == Decimal("0.997")
    await wait_stage(temporal_client, solo, "settled")

    # After the grace period the team's pods hibernate, saying why; the solo pod runs on.
    for who in ("owner", "member"):
        pod = wait(stack, keys[who], pods[who], status("hibernated", "failed"), timeout=GRACE + 90)
        assert pod["status"] == "hibernated", pod["error"]
        assert pod["status_reason"] == "credits"
        assert pod["snapshot"] is not None
    await wait_stage(temporal_client, owner, "hibernated")
    _, account_attr, state = await stage_of(temporal_client, owner)
    assert (account_attr, state) == (owner, WorkflowExecutionStatus.RUNNING)
    with stack.api.client(solo_key) as http:
        solo_pod = http.get(f"/v1/pods/{pods['solo']}").json()
        assert solo_pod["status"] == "running" and solo_pod["status_reason"] is None
    with stack.api.client(member_key) as http:
        usage = http.get("/v1/usage", params={"month": f"{hour:%Y-%m}"}).json()
    assert usage["billed_account_id"] == owner
    assert Decimal(usage["credits_usd"]) == Decimal("-0.011")

    # The same hour again: nothing deducted, nobody mailed, nothing new in the workflows.
    with stack.api.admin() as admin:
        rerun = admin.post("/v1/admin/metering/run", json={"hour": hour.isoformat()})
    assert rerun.status_code == 200 and rerun.json()["inserted"] == 0
    assert ledger_size(database_url) == entries + 4  # + the solo top-up
    await asyncio.sleep(2)
    assert len(stack.mailbox.messages(to=owner_email)) == 1
    assert len(stack.mailbox.messages(to=solo_email)) == 1
    assert (await stage_of(temporal_client, owner))[0] == "hibernated"

    # No email in the credits workflows' histories (nor search attributes, above).
    for account_id in (owner, solo):
        handle = temporal_client.get_workflow_handle(credits_workflow_id(account_id))
        history = await handle.fetch_history()
        assert "@example.com" not in history.to_json()

    # A top-up after hibernation ends the depletion but restores nothing (CLI, admin).
    tenantry = str(Path(sys.executable).with_name("tenantry"))
    cli = [tenantry, "usage", "add-credits", owner, "--amount", "5", "--reference", "inv-7"]
    common = ["--api-url", stack.api.url, "--token", ADMIN_TOKEN]
    added = subprocess.run(cli + common, capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    assert "balance $4.989" in added.stdout
    repeated = subprocess.run(cli + common, capture_output=True, text=True, timeout=60)
    assert repeated.returncode == 0 and "nothing changed" in repeated.stdout
    bad = subprocess.run(
        [tenantry, "usage", "add-credits", member, "--amount", "5", "--reference", "m", *common],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "team member" in bad.stderr
    await wait_stage(temporal_client, owner, "settled")
    shown = subprocess.run(
        [tenantry, "usage", "credits", owner, "--json", *common],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert Decimal(json.loads(shown.stdout)["balance_usd"]) == Decimal("4.989")
    with stack.api.client(owner_key) as http:
        assert http.get(f"/v1/pods/{pods['owner']}").json()["status"] == "hibernated"

    # Both workflows replay (the metering run that found the depletions, and the grace).
    replayer = Replayer(workflows=workflows(), data_converter=DATA_CONVERTER)
    owner_history = await temporal_client.get_workflow_handle(
        credits_workflow_id(owner)
    ).fetch_history()
    await replayer.replay_workflow(owner_history)
    query = f'WorkflowType="MeteringWorkflow" AND TaskQueue="{stack.settings.task_queue}"'
    metering_histories = [
        await temporal_client.get_workflow_handle(run.id, run_id=run.run_id).fetch_history()
        async for run in temporal_client.list_workflows(query)
    ]
    found = [h for h in metering_histories if "credits_start_grace" in h.to_json()]
    assert found, [h.workflow_id for h in metering_histories]
    for history in metering_histories:
        await replayer.replay_workflow(history)
    if os.environ.get("TENANTRY_RECORD_HISTORIES"):
        (REPLAY / "credits-hibernated.json").write_text(owner_history.to_json())
        (REPLAY / "metering-depleted.json").write_text(found[0].to_json())
