"""TenantWorkflow: one long-lived entity per tenant (`tenant-{tenant_id}`).

Every operation on a tenant goes through it, so operations are serialized, durable and
visible in the Temporal UI. It continues-as-new when Temporal suggests it, after its
handlers finish, carrying its state across.
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from temporalio import workflow


class TenantInput(BaseModel):
    tenant_id: str
    subdomain: str
    tier: str
    status: str = "active"
    events: list[str] = Field(default_factory=list)


class TenantState(BaseModel):
    tenant_id: str
    subdomain: str
    tier: str
    status: str
    events: list[str]


class BillingEvent(BaseModel):
    event_id: str
    type: str
    invoice_id: str | None = None
    subscription_id: str | None = None


@workflow.defn
class TenantWorkflow:
    @workflow.init
    def __init__(self, inp: TenantInput) -> None:
        self._state = inp.model_copy(deep=True)
        self._seen: set[str] = set(inp.events)

    @workflow.signal
    def billing_event(self, event: BillingEvent) -> None:
        """Stripe events routed by the webhook; duplicates are dropped by event id."""
        if event.event_id in self._seen:
            return
        self._seen.add(event.event_id)
        self._state.events.append(event.event_id)

    @workflow.query
    def state(self) -> TenantState:
        s = self._state
        return TenantState(
            tenant_id=s.tenant_id,
            subdomain=s.subdomain,
            tier=s.tier,
            status=s.status,
            events=list(s.events),
        )

    @workflow.run
    async def run(self, inp: TenantInput) -> TenantState:
        await workflow.wait_condition(
            lambda: (
                self._state.status == "deleted" or workflow.info().is_continue_as_new_suggested()
            )
        )
        if self._state.status != "deleted":
            await workflow.wait_condition(workflow.all_handlers_finished)
            workflow.continue_as_new(self._state)
        return self.state()
