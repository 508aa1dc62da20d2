"""`tenantry doctor` on the test stack: every check passes, and a broken part is named
with its fix (exit 1) while the others still report.

The doctor runs as the operator runs it: a `tenantry doctor` process with the stack's
settings as TENANTRY_* variables, in a directory with no .env file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from activities.billing import BillingActivities
from activities.metering import MeteringActivities
from db.session import make_engine, make_sessionmaker
from devstack.caddy import CaddyServer
from tenantry.clients.sdk import stripe_client, stripe_meter_stream_client
from tenantry.rules.plans import TENANT_PLANS
from tests.fixtures.stack import Stack

TENANTRY = Path(sys.executable).with_name("tenantry")
CHECKS = [
    "settings",
    "database",
    "temporal",
    "hetzner",
    "route53",
    "s3",
    "stripe key",
    "stripe prices",
    "stripe meters",
    "stripe webhook",
    "smtp",
    "caddy",
]


def doctor(env: dict[str, str], cwd: Path) -> tuple[int, dict[str, str]]:
    """Runs `tenantry doctor`; returns its exit code and its line per check."""
    result = subprocess.run(
        [str(TENANTRY), "doctor"],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    lines: dict[str, str] = {}
    for line in result.stdout.splitlines():
        status, _, rest = line.partition(" ")
        name, sep, _ = rest.strip().partition(":")
        if status in ("ok", "FAIL") and sep:
            lines[name] = line
    return result.returncode, lines


@pytest.fixture
def doctor_stack(stack_factory: Callable[..., Stack], caddy: CaddyServer) -> Stack:
    """The test stack with Caddy, and the Stripe catalog the worker would have created:
    the tier prices and the meters, made by the product's own activities."""
    stack = stack_factory(start_worker=False, caddy_admin_url=caddy.admin_url)
    client = stripe_client(stack.settings)
    billing = BillingActivities(client, public_url=stack.settings.public_url)
    for tier in TENANT_PLANS:
        billing.tier_price(tier.value)
    engine = make_engine(stack.settings.database_url)
    try:
        MeteringActivities(
            make_sessionmaker(engine),
            client,
            stream_client=lambda token: stripe_meter_stream_client(stack.settings, token),
        ).ensure_meters()
    finally:
        engine.dispose()
    return stack


def test_doctor_passes_on_the_stack_and_names_a_missing_webhook(
    doctor_stack: Stack, tmp_path: Path
) -> None:
    env = doctor_stack.settings.to_env()
    code, lines = doctor(env, tmp_path)
    assert list(lines) == CHECKS, lines
    assert code == 0, "\n".join(lines.values())
    assert all(line.startswith("ok ") for line in lines.values())
    assert "test mode" in lines["stripe key"]

    # Someone deletes the product's webhook endpoint in Stripe.
    stripe = doctor_stack.stripe()
    for endpoint in stripe.v1.webhook_endpoints.list().data:
        stripe.v1.webhook_endpoints.delete(endpoint.id)
    code, lines = doctor(env, tmp_path)
    assert code == 1
    webhook = lines["stripe webhook"]
    url = f"{doctor_stack.api.url}/v1/stripe/webhook"
    assert webhook.startswith(f"FAIL stripe webhook: no webhook endpoint for {url}"), webhook
    assert f"fix: register {url} in Stripe" in webhook
    assert "checkout.session.completed" in webhook and "TENANTRY_STRIPE_WEBHOOK_SECRET" in webhook
    assert [n for n, line in lines.items() if line.startswith("FAIL")] == ["stripe webhook"]


def test_doctor_names_a_missing_price_and_an_unreachable_caddy(
    stack_factory: Callable[..., Stack], tmp_path: Path
) -> None:
    """A fresh Stripe account without the catalog, and no Caddy where the settings say."""
    stack = stack_factory(start_worker=False, caddy_admin_url="http://127.0.0.1:9")
    code, lines = doctor(stack.settings.to_env(), tmp_path)
    assert code == 1
    assert lines["stripe prices"].startswith("FAIL stripe prices: no active price with lookup key")
    assert "tenant-starter-monthly" in lines["stripe prices"]
    assert lines["caddy"].startswith("FAIL caddy: ConnectError")
    assert "fix: check TENANTRY_CADDY_ADMIN_URL" in lines["caddy"]
    assert lines["database"].startswith("ok ")


def test_doctor_reports_settings_a_production_process_would_refuse(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
    result = subprocess.run(
        [str(TENANTRY), "doctor"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout.startswith("FAIL settings: ")
    assert "TENANTRY_ADMIN_TOKEN" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_a_check_is_one_line_whatever_the_sdk_said() -> None:
    from tenantry.doctor import DETAIL_LIMIT, Check

    multi = Check("stripe key", False, "Unexpected error\n\n(Network error:  refused)", "fix it")
    assert (
        multi.line() == "FAIL stripe key: Unexpected error (Network error: refused) -> fix: fix it"
    )
    long = Check("s3", False, "x" * 5000, "fix it").line()
    assert (
        "\n" not in long and len(long) < DETAIL_LIMIT + 50 and long.endswith("... -> fix: fix it")
    )
