"""Settings: the one place that reads the environment.

Every process builds exactly one settings object from ``TENANTRY_*`` variables (or a
``.env`` file). Defaults point at the local stack that ``tenantry dev`` starts, so a
developer needs no configuration; ``TENANTRY_ENV=production`` refuses every placeholder
secret so that a production process never runs on them by accident.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AliasChoices,
    BeforeValidator,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

# Placeholders are recognisable on purpose: production refuses any secret that starts so.
PLACEHOLDER_PREFIX = "dev-placeholder-"
DEV_ENCRYPTION_KEY = "dev-placeholder-DIL4a9x1cm7vZ6bqk0AgGxJrZ2VfQ3sYw8Tn1Ue5Hoo="


def _seconds(value: object) -> object:
    """Durations may be given as seconds (`600`, `0.5`) as well as ISO 8601 (`PT10M`)."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


Duration = Annotated[timedelta, BeforeValidator(_seconds)]


# Docker and Compose mount secrets here: a file `tenantry_<setting>` sets that setting, so
# production keeps secrets out of environment variables (an environment variable still
# wins). Only when the directory exists: elsewhere pydantic-settings would warn on every
# settings object.
SECRETS_DIR = Path("/run/secrets")


def _secrets_dir() -> Path | None:
    return SECRETS_DIR if SECRETS_DIR.is_dir() else None


def _placeholder(name: str) -> SecretStr:
    return SecretStr(PLACEHOLDER_PREFIX + name)


class CoreSettings(BaseSettings):
    """What the API and the worker share: where every external system lives."""

    model_config = SettingsConfigDict(
        env_prefix="TENANTRY_",
        env_file=".env",
        extra="ignore",
        frozen=True,
        secrets_dir=_secrets_dir(),
    )

    env: Literal["dev", "test", "production"] = "dev"
    state_dir: Path = Path(".tenantry")

    # PostgreSQL
    database_url: str = "postgresql+psycopg://tenantry@127.0.0.1:5433/tenantry"

    # Temporal
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "tenantry"

    # Hetzner Cloud
    hetzner_token: SecretStr = _placeholder("hetzner-token")
    hetzner_endpoint: str = "http://127.0.0.1:8470/v1"
    hetzner_location: str = "fsn1"
    hetzner_image: str = "ubuntu-24.04"

    # AWS: Route53 and S3
    aws_access_key_id: SecretStr = SecretStr("testing")
    aws_secret_access_key: SecretStr = SecretStr("testing")
    aws_region: str = "us-east-1"
    route53_endpoint: str | None = "http://127.0.0.1:5055"
    route53_hosted_zone_id: str | None = None
    base_domain: str = "tenantry.test"
    s3_endpoint: str | None = "http://127.0.0.1:5055"
    s3_bucket: str = "tenantry-snapshots"

    # Stripe
    stripe_api_key: SecretStr = SecretStr("sk_test_tenantry_dev")
    stripe_api_base: str | None = "http://127.0.0.1:12111"
    stripe_webhook_secret: SecretStr = SecretStr("whsec_dev_placeholder")

    # Mail
    smtp_url: str = "smtp://127.0.0.1:1025"
    mail_from: str = "Tenantry <noreply@tenantry.test>"
    admin_email: str = "ops@tenantry.test"

    # Secrets
    admin_token: SecretStr = _placeholder("admin-token")
    host_bootstrap_token: SecretStr = _placeholder("host-bootstrap-token")
    encryption_key: SecretStr = Field(
        default=SecretStr(DEV_ENCRYPTION_KEY),
        description="Fernet key(s), comma-separated, newest first; old keys still decrypt.",
    )

    # SSH to pod hosts and tenant servers
    ssh_key_path: Path = Path(".tenantry/ssh/id_ed25519")
    ssh_known_hosts_path: Path = Path(".tenantry/ssh/known_hosts")

    # Pods: the container runtime on pod hosts, the SSH login there, how many snapshots
    # a pod keeps, how long a host may go without a heartbeat before it gets no new pods,
    # and how soon a pod step on a dead worker is noticed (its heartbeat timeout).
    pod_runtime: Literal["runc", "runsc", "auto"] = "runc"
    pod_host_user: str | None = None
    pod_snapshots_to_keep: int = Field(default=3, ge=1)
    host_heartbeat_timeout: Duration = timedelta(seconds=90)
    pod_step_heartbeat: Duration = timedelta(seconds=10)

    # The edge (Caddy): its admin API and the HTTP server there that holds pod routes.
    # Pods are served at {service}-{pod}-{account}.{pod_base_domain} (see tenantry.rules.edge_names)
    # on the edge's public scheme and port; requests for a pod that is not running go to
    # the API's wake endpoint, which Caddy dials at edge_wake_upstream (host:port).
    caddy_admin_url: str = "http://127.0.0.1:2019"
    edge_server: str = "edge"
    pod_base_domain: str = "pods.localhost"
    edge_public_scheme: Literal["http", "https"] = "http"
    edge_public_port: int = Field(default=8080, ge=1, le=65535)
    edge_wake_upstream: str = "127.0.0.1:8000"

    # Where customers reach the API (links in mails and Checkout redirects)
    public_url: str = "http://127.0.0.1:8000"
    tenant_app_image: str = "ghcr.io/tenantry/tenant-app:stable"

    # How often activities poll provider actions (Hetzner actions, Route53 changes)
    provider_poll_interval: Duration = timedelta(seconds=1)

    # Signup policy
    approval_mode: Literal["auto", "manual"] = "auto"
    checkout_expiry: Duration = timedelta(hours=24)
    health_gate_budget: Duration = timedelta(minutes=10)
    payment_grace: Duration = timedelta(days=7)
    # Prepaid accounts: how long pods keep running after the credits reach zero.
    credits_grace: Duration = timedelta(hours=24)
    # A tenant's workflow continues-as-new past this many history events (Temporal may ask sooner).
    tenant_history_limit: int = 10_000
    # How long a short step (a database write, a Stripe call) may take before it is retried.
    step_timeout: Duration = timedelta(seconds=30)
    # When provisioning fails for good: cancel the subscription, or keep it for a repair.
    failed_signup_subscription: Literal["cancel", "keep"] = "cancel"

    # Fleet operations: how long a rolled-out tenant may take to answer healthy on the new
    # tag (and again on the old one after a rollback); how often `health-sweep` runs.
    rollout_health_budget: Duration = timedelta(minutes=2)
    health_sweep_interval: Duration = timedelta(minutes=5)
    # A rollout's workflow continues-as-new past this many history events.
    rollout_history_limit: int = 10_000

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> CoreSettings:
        if self.env != "production":
            return self
        weak = [
            name
            for name, value in self
            if isinstance(value, SecretStr) and _is_placeholder(value.get_secret_value())
        ]
        if weak:
            raise ValueError(
                "production refuses placeholder secrets; set "
                + ", ".join(f"TENANTRY_{n.upper()}" for n in sorted(weak))
            )
        return self

    def to_env(self) -> dict[str, str]:
        """These settings as `TENANTRY_*` variables, for a child process (worker, API)."""
        env: dict[str, str] = {}
        for name, value in self:
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, timedelta):
                value = f"{value.total_seconds():g}"
            env[f"TENANTRY_{name.upper()}"] = str(value)
        return env

    @cached_property
    def encryption_keys(self) -> list[str]:
        keys = [k.strip() for k in self.encryption_key.get_secret_value().split(",")]
        return [k.removeprefix(PLACEHOLDER_PREFIX) for k in keys if k]


def _is_placeholder(value: str) -> bool:
    return (
        value.startswith(PLACEHOLDER_PREFIX)
        or "dev_placeholder" in value
        or value in {"", "testing", "changeme", "sk_test_tenantry_dev"}
    )


class ApiSettings(CoreSettings):
    """The HTTP API process."""

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    signup_rate_limit_per_minute: int = 10
    # How long POST /v1/signups waits for the Checkout URL before answering 503 (repeat
    # the same request to join the signup in progress).
    signup_checkout_wait: Duration = timedelta(seconds=30)
    team_invite_ttl: Duration = timedelta(days=7)


class WorkerSettings(CoreSettings):
    """The Temporal worker process."""

    max_concurrent_activities: int = 100
    activity_threads: int = 32
    graceful_shutdown: Duration = timedelta(seconds=30)


class EdgeAgentSettings(CoreSettings):
    """The edge agent (`tenantry edge-agent`): Caddy's access log, reported as pod activity
    to the API at `public_url` with the host bootstrap token, once per interval."""

    edge_access_log: Path = Path(".tenantry/caddy/access.log")
    edge_report_interval: Duration = timedelta(seconds=10)


class CliSettings(BaseSettings):
    """The operator CLI: only where the API is and how to authenticate."""

    model_config = SettingsConfigDict(env_prefix="TENANTRY_", env_file=".env", extra="ignore")

    api_url: str = "http://127.0.0.1:8000"
    token: SecretStr | None = None


class HostAgentSettings(BaseSettings):
    """`tenantry host-agent` on a pod host: the API, who this host is, how often it reports.

    Capacity defaults to this machine's CPUs and memory; ``DOCKER_HOST`` (Docker's own
    variable) names the daemon that runs the host's pods.
    """

    model_config = SettingsConfigDict(
        env_prefix="TENANTRY_",
        env_file=".env",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
        secrets_dir=_secrets_dir(),
    )

    env: Literal["dev", "test", "production"] = "dev"
    api_url: str = "http://127.0.0.1:8000"
    host_bootstrap_token: SecretStr = _placeholder("host-bootstrap-token")
    host_name: str | None = None
    host_address: str | None = None
    host_ssh_port: int = Field(default=22, ge=1, le=65535)
    host_key_file: Path = Path("/etc/ssh/ssh_host_ed25519_key.pub")
    host_cpu_millis: int | None = Field(default=None, ge=0)
    host_memory_mb: int | None = Field(default=None, ge=0)
    host_heartbeat_interval: Duration = Field(default=timedelta(seconds=30), gt=timedelta(0))
    docker_host: str = Field(
        default="unix:///var/run/docker.sock",
        validation_alias=AliasChoices("TENANTRY_DOCKER_HOST", "DOCKER_HOST"),
    )

    @field_validator("docker_host")
    @classmethod
    def _docker_url(cls, value: str) -> str:
        if not value.startswith(("unix:///", "tcp://", "http://")):
            raise ValueError(f"DOCKER_HOST {value!r}: use unix:///path or tcp://host:port")
        return value

    @model_validator(mode="after")
    def _refuse_placeholder_token(self) -> HostAgentSettings:
        if self.env == "production" and _is_placeholder(
            self.host_bootstrap_token.get_secret_value()
        ):
            raise ValueError("production refuses a placeholder TENANTRY_HOST_BOOTSTRAP_TOKEN")
        return self
