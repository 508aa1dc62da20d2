"""schemathesis against the live API: what /openapi.json promises is what the API does.

The real stack (uvicorn serving the API over HTTP, PostgreSQL, Temporal, a worker, the
Stripe and Hetzner emulators, moto) is driven with every check schemathesis has (server
errors, status codes, content types, response schemas and headers, positive and
negative data, auth, methods, ...) in every phase (examples, coverage, fuzzing and
stateful), once per identity: the admin token, an account's API key and a host's own credential.
Each run is bounded (few examples, a time limit) and seeded, so a failure repeats.

Stateful: FastAPI writes no OpenAPI `links`, so schemathesis infers the transitions
itself (ids in responses, `Location` headers); what it finds it runs. /metrics is tested
behind its token, as production serves it (without one it is open in dev only).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from schemathesis import engine
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events

from tests.fixtures.api import ADMIN_TOKEN
from tests.fixtures.stack import Stack

SEED = 20261204
MAX_EXAMPLES = 8
MAX_SECONDS = 90  # per identity
METRICS_TOKEN = "metrics-token-for-tests"


@dataclass
class Outcome:
    failures: list[str]
    requests: int
    operations: set[str]


def config_for(token: str) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "max-time": MAX_SECONDS,
            "headers": {"Authorization": f"Bearer {token}"} if token else {},
            "generation": {"max-examples": MAX_EXAMPLES, "mode": "all"},
            "checks": {
                "enabled": True,
                # Schema-valid is not always valid: the API checks meaning that JSON Schema
                # cannot say (an SSH host key must parse, a pod config must be a pod
                # config, a metering hour must be over, a host name must be free), and
                # answers that with its documented 422; 404/409 answer ids and states;
                # the Stripe webhook answers 400 to a signature that does not verify.
                # DELETE /v1/pods/{id} is asynchronous (202): the pod stays readable,
                # `destroying` then `destroyed`, on purpose (its owner sees what became of
                # it). use_after_free expects a 404 right after; that is not this API.
                "use_after_free": {"enabled": False},
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", 400, 401, 403, 404, 409, 422, 429, 502, 503]
                },
            },
            "phases": {"stateful": {"max-steps": 8}},
            "request-timeout": 60,
        }
    )


def run(stack: Stack, token: str, **include: Any) -> Outcome:
    schema = schemathesis.openapi.from_url(
        f"{stack.api.url}/openapi.json", config=config_for(token)
    )
    schema = schema.include(**include)
    outcome = Outcome(failures=[], requests=0, operations=set())
    for event in engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            outcome.requests += len(event.recorder.interactions)
            if event.label:
                outcome.operations.add(event.label)
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        failure = check.failure_info.failure
                        outcome.failures.append(
                            f"[{event.phase.value}] {event.label}: {check.name}: "
                            f"{failure.title}\n{failure.message}\n"
                            f"{check.failure_info.code_sample}"
                        )
        elif isinstance(event, events.NonFatalError):
            outcome.failures.append(f"error in {event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            outcome.failures.append(f"fatal: {event.exception!r}")
    return outcome


def account_key(stack: Stack) -> str:
    return stack.new_account("schemathesis@example.com")


def assert_clean(outcome: Outcome) -> None:
    unique = list(dict.fromkeys(outcome.failures))
    assert not unique, f"{len(unique)} failures:\n\n" + "\n\n".join(unique[:20])
    assert outcome.requests > 0


@pytest.mark.slow
def test_schemathesis_admin(stack: Stack) -> None:
    assert_clean(run(stack, ADMIN_TOKEN, path_regex="^/v1/admin/"))


@pytest.mark.slow
def test_schemathesis_account(stack: Stack) -> None:
    assert_clean(run(stack, account_key(stack), path_regex="^/v1/(pods|team|usage|keys)"))


def host_credential(stack: Stack) -> str:
    """A registered host's own credential (a join token spent as a host agent would)."""
    with stack.api.client(stack.mint_join_token()) as http:
        registered = http.post(
            "/v1/hosts/register",
            json={
                "name": f"fuzz-host-{uuid.uuid4().hex[:8]}",
                "address": "203.0.113.10",
                "ssh_host_key": "ssh-ed25519 "
                "AAAAC3NzaC1lZDI1NTE5AAAAIHhs0lHdRwZ6Z1mJf2k5u6QbXv3QvS1fPp0uX1vR9xQe",
            },
        )
    assert registered.status_code == 200, registered.text
    return str(registered.json()["credential"])


@pytest.mark.slow
def test_schemathesis_host(stack: Stack) -> None:
    assert_clean(run(stack, host_credential(stack), path_regex="^/v1/hosts/"))


@pytest.mark.slow
def test_schemathesis_public(stack_factory: Callable[..., Stack]) -> None:
    # /metrics as in production: behind its token (open only in dev without one).
    stack = stack_factory(metrics_token=METRICS_TOKEN)
    assert_clean(
        run(stack, "", path_regex="^/(healthz|readyz|metrics|v1/signups|v1/stripe|v1/accounts)")
    )
