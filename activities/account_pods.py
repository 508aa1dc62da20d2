"""Hibernating every running pod of a billed account and of its team members.

Shared by prepaid credits (an empty balance) and account billing (an unpaid invoice):
each pod is asked through its `PodWorkflow`'s `hibernate` update with the caller's
`source`, exactly as the API's hibernate does, so a pod says why it sleeps.
"""

from __future__ import annotations

import uuid

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from db.models import Account, Pod
from tenantry.contracts.common import pod_workflow_id
from tenantry.contracts.pod import PodRequest
from workflows.pod import PodWorkflow


async def hibernate_account_pods(
    sessions: async_sessionmaker[AsyncSession], client: Client, owner: uuid.UUID, source: str
) -> tuple[list[str], list[str]]:
    """(requested, skipped) pod ids; a busy pod or one whose workflow is gone is skipped."""
    async with sessions() as session:
        pod_ids = list(
            await session.scalars(
                select(Pod.id)
                .join(Account, Account.id == Pod.account_id)
                .where(
                    or_(Account.id == owner, Account.team_owner_id == owner),
                    Pod.status == "running",
                )
                .order_by(Pod.created_at, Pod.id)
            )
        )
    requested: list[str] = []
    skipped: list[str] = []
    for pod_id in pod_ids:
        handle = client.get_workflow_handle(pod_workflow_id(str(pod_id)))
        try:
            await handle.execute_update(PodWorkflow.hibernate, PodRequest(source=source))
        except WorkflowUpdateFailedError:
            skipped.append(str(pod_id))  # busy (refused by the validator)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            skipped.append(str(pod_id))  # its workflow is gone
        else:
            requested.append(str(pod_id))
        activity.heartbeat(str(pod_id))
    return requested, skipped
