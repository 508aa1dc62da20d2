"""A pod whose API died between committing its row and starting its workflow is repaired.

The crash is reproduced by writing the row exactly as `POST /v1/pods` does and starting
no workflow. Destroying that pod through the API starts its workflow from the row (the
same deterministic id create uses, so it would join a late start instead of racing it)
and destroys it; its name is then free for a new pod.
"""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import select

from db.models import Account
from db.repo import pods as repo
from db.session import make_async_engine, make_async_sessionmaker
from tenantry.contracts.pod import PodStatus
from tenantry.rules.pod_config import parse_pod_config
from tests.fixtures.stack import Stack
from tests.support.pods import create, status, wait

CONFIG = """
template: base
services:
  - name: http
    port: 8080
"""


async def orphan_pod(database_url: str, email: str, name: str) -> str:
    """The row an API that died right after its commit leaves behind."""
    engine = make_async_engine(database_url)
    try:
        async with make_async_sessionmaker(engine)() as session:
            account_id = await session.scalar(select(Account.id).where(Account.email == email))
            assert account_id is not None
            pod_id = uuid.uuid4()
            repo.add_pod(
                session,
                id=pod_id,
                account_id=account_id,
                name=name,
                tier="dev.small",
                status=PodStatus.CREATING.value,
                config={"pod": parse_pod_config(CONFIG).public()},
                secrets=None,
                idle_timeout_seconds=None,
            )
            await session.commit()
    finally:
        await engine.dispose()
    return str(pod_id)


def test_a_pod_left_without_its_workflow_can_be_destroyed_and_its_name_reused(
    pod_stack: Stack,
) -> None:
    key = pod_stack.new_account("orphan@example.com")
    pod_id = asyncio.run(orphan_pod(pod_stack.settings.database_url, "orphan@example.com", "lost"))

    with pod_stack.api.client(key) as http:
        taken = http.post("/v1/pods", json={"name": "lost", "tier": "dev.small", "config": CONFIG})
        assert taken.status_code == 409, taken.text
        destroyed = http.delete(f"/v1/pods/{pod_id}")
        assert destroyed.status_code == 202, destroyed.text
    wait(pod_stack, key, pod_id, status("destroyed"), timeout=90)

    again = create(pod_stack, key, "lost", CONFIG)
    assert again != pod_id
    wait(pod_stack, key, again, status("running"), timeout=90)
