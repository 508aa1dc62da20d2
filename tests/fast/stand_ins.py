"""Workflows that stand in for a child the workflow under test starts.

A stand-in is registered under the real workflow's *name*, like the mocked activities:
the parent starts it as it would the real one, and the test asks it (query `given`) what
it was started with. It waits, as the real entity workflow would, until the test ends it;
it never returns (the parent would decode its result as the real child's). This module
stays light: the workflow sandbox imports it.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from tenantry.contracts.tenant import TenantInput


@workflow.defn(name="TenantWorkflow")
class TenantStandIn:
    @workflow.init
    def __init__(self, inp: TenantInput) -> None:
        self._given = inp

    @workflow.run
    async def run(self, inp: TenantInput) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.query
    def given(self) -> TenantInput:
        return self._given
