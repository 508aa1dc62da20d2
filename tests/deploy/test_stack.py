"""The compose stack, deployed for real: docker-compose.yml plus compose.test.yml.

The production image and stand-ins for the upstream images run in this test's own Docker
daemon; the outside world is the emulators the other tests use (Hetzner, Stripe, moto,
the mail sink), on the host. A signup goes from the API to an active tenant; with three
workers, one is killed mid-signup and the next signup still ends with one tenant and one
server; `docker compose down` (volumes kept) and `up` again find every tenant where it
was, and a third signup goes through.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from devstack.caddy import caddy_config
from devstack.docker import docker_cli
from devstack.procs import distinct_free_ports
from tests.deploy.conftest import Compose
from tests.fixtures.hetzner import HetznerEmulator
from tests.fixtures.moto import AwsResources
from tests.fixtures.stripe import StripeEmulator
from tests.support.checkout import pay

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "deploy-test-admin-token"
STRIPE_KEY = "sk_test_deploy_stack"
IMAGE_UID = 10001  # the image's user, who must be able to read the secret files


@dataclass
class Deployed:
    compose: Compose
    api_url: str
    hetzner: HetznerEmulator
    caddy_admin_url: str
    temporal_address: str

    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.api_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
        )

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            try:
                last = httpx.get(f"{self.api_url}/readyz", timeout=2).status_code
                if last == 200:
                    return
            except httpx.TransportError as exc:
                last = exc
            time.sleep(0.5)
        pytest.fail(f"the API never became ready ({last!r})\n{self.logs()}")

    def up(self, *args: str) -> None:
        """`docker compose up -d`, with every service's logs when it fails."""
        try:
            self.compose.run("up", "-d", *args, timeout=600)
        except AssertionError as exc:
            pytest.fail(f"{exc}\n{self.logs()}")

    def wait_edge(self, timeout: float = 60) -> None:
        """Caddy answers on its admin API and the edge agent follows its access log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            agent = self.compose.run("logs", "--no-color", "edge-agent", check=False)
            try:
                caddy = httpx.get(f"{self.caddy_admin_url}/config/", timeout=2).status_code
            except httpx.TransportError:
                caddy = 0
            if caddy == 200 and "edge agent following" in agent:
                return
            time.sleep(0.5)
        pytest.fail(f"the edge did not come up\n{self.logs()}")

    def logs(self) -> str:
        return self.compose.run("logs", "--no-color", "--tail", "60", check=False)[-12000:]

    def signup(self, subdomain: str) -> dict[str, Any]:
        response = httpx.post(
            f"{self.api_url}/v1/signups",
            json={"email": f"owner@{subdomain}.example.com", "subdomain": subdomain,
                  "tier": "starter"},
            timeout=60,
        )  # fmt: skip
        assert response.status_code == 202, response.text
        return dict(response.json())

    def status(self, created: dict[str, Any]) -> dict[str, Any]:
        response = httpx.get(
            f"{self.api_url}/v1/signups/{created['signup_id']}",
            params={"status_token": created["status_token"]},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait_status(self, created: dict[str, Any], wanted: set[str], timeout: float = 180) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            status = self.status(created)
            if status["status"] in wanted or status["status"] in {"failed", "expired"}:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"signup stuck at {status}\n{self.logs()}")
            time.sleep(0.2)
        assert status["status"] in wanted, f"{status}\n{self.logs()}"
        return status

    def servers(self) -> list[str]:
        return sorted(s.name for s in self.hetzner.client().servers.get_all())


def write_secrets(directory: Path, values: dict[str, str]) -> None:
    directory.mkdir()
    for name, value in values.items():
        path = directory / name
        path.write_text(value + "\n")
        os.chown(path, IMAGE_UID, IMAGE_UID)
        path.chmod(0o400)


def ssh_key_pair() -> tuple[str, str]:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()).decode()
    public = key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    return private.strip(), f"{public} tenantry-deploy-test"


@pytest.fixture
def deployed(
    deploy_docker: str,
    tenantry_image: str,
    stand_in_images: None,
    hetzner: HetznerEmulator,
    stripe_env: StripeEmulator,
    aws: AwsResources,
    smtp_url: str,
    tmp_path: Path,
) -> Iterator[Deployed]:
    pg_port, temporal_port, api_port, caddy_port, admin_port = distinct_free_ports(5)
    api_url = f"http://127.0.0.1:{api_port}"
    client = stripe.StripeClient(STRIPE_KEY, base_addresses={"api": stripe_env.url})
    endpoint = client.v1.webhook_endpoints.create(
        params={"url": f"{api_url}/v1/stripe/webhook", "enabled_events": ["*"]}
    )
    private, public = ssh_key_pair()
    password = "deploy-test-pg-password"
    write_secrets(
        tmp_path / "secrets",
        {
            "postgres_password": password,
            "tenantry_database_url":
                f"postgresql+psycopg://tenantry:{password}@127.0.0.1:{pg_port}/tenantry",
            "tenantry_admin_token": ADMIN_TOKEN,
            "tenantry_edge_token": "deploy-test-edge-token",
            "tenantry_encryption_key": "3q2-7wbVjS0M1fU7mEwD1pZy3Bqk0VQxk4kJq2b9GmE=",
            "tenantry_hetzner_token": hetzner.token,
            "tenantry_aws_access_key_id": "deploy-test-access-key",
            "tenantry_aws_secret_access_key": "deploy-test-secret-key",
            "tenantry_stripe_api_key": STRIPE_KEY,
            "tenantry_stripe_webhook_secret": endpoint.secret or "",
            "tenantry_smtp_url": smtp_url,
            "tenantry_status_token_key": "deploy-test-status-token-key-0123456789",
            "ssh_key": private,
            "ssh_key.pub": public,
        },
    )  # fmt: skip
    caddy = tmp_path / "caddy.json"
    caddy.write_text(json.dumps(caddy_config(
        host="127.0.0.1", port=caddy_port, admin_port=admin_port,
        access_log=Path("/var/log/caddy/access.log"),
    )))  # fmt: skip
    caddy.chmod(0o644)
    compose = Compose(
        docker_host=deploy_docker,
        project=f"tntdeploy{os.getpid()}",
        files=[REPO / "docker-compose.yml", Path(__file__).with_name("compose.test.yml")],
        env={
            "TENANTRY_IMAGE": tenantry_image,
            "TENANTRY_PUBLIC_URL": api_url,
            "TENANTRY_SECRETS_DIR": str(tmp_path / "secrets"),
            "TENANTRY_CADDY_CONFIG": str(caddy),
            "PG_PORT": str(pg_port),
            "TEMPORAL_PORT": str(temporal_port),
            "API_PORT": str(api_port),
            "CADDY_PORT": str(caddy_port),
            "CADDY_ADMIN_PORT": str(admin_port),
            "HETZNER_ENDPOINT": hetzner.endpoint,
            "STRIPE_API_BASE": stripe_env.url,
            "AWS_ENDPOINT": aws.endpoint_url,
            "HOSTED_ZONE_ID": aws.hosted_zone_id,
            "BASE_DOMAIN": aws.base_domain,
        },
    )
    try:
        yield Deployed(
            compose,
            api_url,
            hetzner,
            caddy_admin_url=f"http://127.0.0.1:{admin_port}",
            temporal_address=f"127.0.0.1:{temporal_port}",
        )
    finally:
        if os.environ.get("TENANTRY_TEST_SHOW_WORKER_LOGS"):
            print(compose.run("logs", "--no-color", check=False))
        compose.run("down", "-v", "-t", "5", check=False)


def worker_running(
    temporal_address: str, workflow_id: str, workers: list[str], docker_host: str
) -> tuple[str, str]:
    """The worker container running one of the workflow's activities now, and its type.

    Temporal names a worker `pid@hostname`; the workers share the host's process
    namespace in compose.test.yml, so that pid is the container's process on this host.
    """
    by_pid = {
        docker_cli(docker_host, "inspect", "-f", "{{.State.Pid}}", c).strip(): c for c in workers
    }
    temporal = str(Path(sys.executable).with_name("temporal"))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        described = subprocess.run(
            [temporal, "workflow", "describe", "--address", temporal_address,
             "--workflow-id", workflow_id, "--output", "json"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        if described.returncode == 0:
            for pending in json.loads(described.stdout).get("pendingActivities", []):
                pid = pending.get("lastWorkerIdentity", "").split("@")[0]
                if pending.get("state") == "PENDING_ACTIVITY_STATE_STARTED" and pid in by_pid:
                    return by_pid[pid], pending["activityType"]["name"]
        time.sleep(0.1)
    raise AssertionError(f"no worker of {sorted(by_pid)} ran an activity of {workflow_id}")


def active_tenants(stack: Deployed) -> list[str]:
    with stack.admin() as admin:
        response = admin.get("/v1/admin/tenants", params={"limit": 100})
    assert response.status_code == 200, response.text
    rows = response.json()["data"]
    return sorted(t["subdomain"] for t in rows if t["status"] == "active")


@pytest.mark.timeout(1200)
def test_signup_scale_kill_and_restart(deployed: Deployed) -> None:
    stack, compose = deployed, deployed.compose
    started = time.monotonic()
    stack.up()
    stack.wait_ready()
    stack.wait_edge()
    assert len(compose.containers("worker")) == 1
    running = set(compose.run("ps", "--status", "running", "--services").split())
    assert running == {"postgres", "temporal", "api", "worker", "caddy", "edge-agent"}

    first = stack.signup("first")
    pay(first["checkout_url"])
    stack.wait_status(first, {"active"})
    assert active_tenants(stack) == ["first"]
    assert len(stack.servers()) == 1

    stack.up("--scale", "worker=3", "--no-recreate")
    workers = compose.containers("worker")
    assert len(workers) == 3

    # Server actions take 5 s now: the worker running the signup's step (polling the
    # server's create action, as a rule) is killed, and another must carry the signup on,
    # adopting the server by its name rather than creating a second.
    stack.hetzner.admin.post("/_admin/config", {"action_duration": 5})
    second = stack.signup("second")
    pay(second["checkout_url"])
    stack.wait_status(second, {"provisioning"})
    victim, activity = worker_running(
        stack.temporal_address, "signup-second", workers, compose.docker_host
    )
    docker_cli(compose.docker_host, "kill", victim)
    print(f"killed the worker running {activity}")
    stack.hetzner.admin.post("/_admin/config", {"action_duration": 0.2})
    stack.wait_status(second, {"active"}, timeout=240)
    assert victim not in compose.containers("worker")
    assert active_tenants(stack) == ["first", "second"]
    assert len(stack.servers()) == 2, stack.servers()

    # down keeps the volumes: PostgreSQL's data, Temporal's database, Caddy's state.
    compose.run("down", "-t", "10", timeout=300)
    assert compose.run("ps", "-aq").strip() == ""
    stack.up()
    stack.wait_ready()
    assert active_tenants(stack) == ["first", "second"]
    assert stack.status(first)["status"] == "active"
    assert len(stack.servers()) == 2
    third = stack.signup("third")  # and the restarted stack goes on working
    pay(third["checkout_url"])
    stack.wait_status(third, {"active"})
    assert active_tenants(stack) == ["first", "second", "third"]
    assert len(stack.servers()) == 3
    print(f"deployment test: {time.monotonic() - started:.0f} s with the stack up")
