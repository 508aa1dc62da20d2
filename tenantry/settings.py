"""Settings: the one place that reads the environment.

Every process builds exactly one settings object from ``TENANTRY_*`` variables (or a
``.env`` file). ``TENANTRY_ENV`` unset means production: a process that forgot its
environment must fail closed, not run on dev secrets against emulators. So field defaults
are production's (an endpoint left empty is the real service; AWS keys left unset use
the default credential chain), and ``TENANTRY_ENV=dev`` (set by ``tenantry dev`` and the
test fixtures) fills in the local stack's endpoints instead (`DEV_DEFAULTS`).

Production refuses placeholder secrets and loopback, plain-HTTP or emulator endpoints
for Stripe, Hetzner and AWS, naming the setting to fix;
``TENANTRY_ALLOW_NONPRODUCTION_ENDPOINTS=true`` lets a staging deployment keep real
secrets checks while it talks to emulators.
"""

from __future__ import annotations

import ipaddress
import json
import os
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    BeforeValidator,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tenantry.contracts.podhost import (
    DEFAULT_POD_CAPABILITIES,
    POD_BASE_IMAGE_PREFIX,
    PodIsolation,
)
from tenantry.rules.plans import TenantTier

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
DEFAULT_DATABASE_URL = "postgresql+psycopg://tenantry@127.0.0.1:5433/tenantry"


def _secrets_dir() -> Path | None:
    return SECRETS_DIR if SECRETS_DIR.is_dir() else None


def _placeholder(name: str) -> SecretStr:
    return SecretStr(PLACEHOLDER_PREFIX + name)


# Where the local stack's emulators listen; used only when TENANTRY_ENV is not production
# and the variable is not set at all (an explicitly empty one still means the real service).
DEV_DEFAULTS: dict[str, str] = {
    "hetzner_endpoint": "http://127.0.0.1:8470/v1",
    "route53_endpoint": "http://127.0.0.1:5055",
    "s3_endpoint": "http://127.0.0.1:5055",
    "stripe_api_base": "http://127.0.0.1:12111",
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
}

# Endpoints production insists are real (https, not loopback): the settings name them.
PROVIDER_ENDPOINTS = ("stripe_api_base", "hetzner_endpoint", "route53_endpoint", "s3_endpoint")
# Settings where empty means "unset": the real service, AWS's default credential chain,
# no TLS material (`X=` in a deployment's env file must not become a path or a secret "").
EMPTY_MEANS_UNSET = (
    *PROVIDER_ENDPOINTS,
    "aws_access_key_id",
    "aws_secret_access_key",
    "temporal_tls_cert_path",
    "temporal_tls_key_path",
    "temporal_tls_ca_path",
    "temporal_tls_server_name",
    "temporal_api_key",
    "smtp_ca_file",
)


def nonproduction_endpoint(url: str) -> str | None:
    """Why `url` cannot be a production provider endpoint (None: it can).

    Plain HTTP would send API keys in the clear, and a loopback, unspecified or
    link-local address is the local stack's emulators, never Stripe, Hetzner or AWS.
    """
    parts = urlsplit(url)
    if parts.scheme != "https":
        return f"{parts.scheme or 'no'} scheme (production talks https)"
    host = (parts.hostname or "").lower()
    if not host:
        return "no host"
    if host == "localhost" or host.endswith(".localhost"):
        return "a loopback host"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if address.is_loopback or address.is_unspecified or address.is_link_local:
        return "a loopback or local address"
    return None


class DatabaseSettings(BaseSettings):
    """What `tenantry migrate` needs, and nothing else: the migrate job of a deployment
    holds the database URL, not the Stripe key or the encryption key."""

    model_config = SettingsConfigDict(
        env_prefix="TENANTRY_", env_file=".env", extra="ignore", secrets_dir=_secrets_dir()
    )

    database_url: str = DEFAULT_DATABASE_URL


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _cidr_list(value: Any) -> Any:
    """`10.0.0.0/8, 192.168.1.7` (an env var) or a list; a bare address is a /32 or /128."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            value = json.loads(text)
        else:
            value = [part.strip() for part in text.split(",") if part.strip()]
    if isinstance(value, list):
        return [ipaddress.ip_network(str(item).strip(), strict=False) for item in value]
    return value


class CoreSettings(BaseSettings):
    """What the API and the worker share: where every external system lives."""

    model_config = SettingsConfigDict(
        env_prefix="TENANTRY_",
        env_file=".env",
        extra="ignore",
        frozen=True,
        secrets_dir=_secrets_dir(),
    )

    env: Literal["dev", "test", "production"] = "production"
    # Staging: production's secret checks, but emulator or plain-HTTP provider endpoints.
    allow_nonproduction_endpoints: bool = False
    state_dir: Path = Path(".tenantry")

    # PostgreSQL
    database_url: str = DEFAULT_DATABASE_URL

    # Temporal
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "tenantry"
    # TLS (on when any of these is set, or `temporal_tls`): a client certificate and key
    # for mTLS, the server's CA when it is private, the name the server's certificate
    # carries when it differs from the address; an API key (Temporal Cloud) implies TLS.
    temporal_tls: bool = False
    temporal_tls_cert_path: Path | None = None
    temporal_tls_key_path: Path | None = None
    temporal_tls_ca_path: Path | None = None
    temporal_tls_server_name: str | None = None
    temporal_api_key: SecretStr | None = None

    # Hetzner Cloud (endpoint unset or empty: the real API)
    hetzner_token: SecretStr = _placeholder("hetzner-token")
    hetzner_endpoint: str | None = None
    hetzner_location: str = "fsn1"
    hetzner_image: str = "ubuntu-24.04"

    # AWS: Route53 and S3. Keys unset: boto3's default chain (IAM role, profile, env).
    # Endpoints unset or empty: AWS's own.
    aws_access_key_id: SecretStr | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_region: str = "us-east-1"
    route53_endpoint: str | None = None
    route53_hosted_zone_id: str | None = None
    base_domain: str = "tenantry.test"
    s3_endpoint: str | None = None
    s3_bucket: str = "tenantry-snapshots"

    # Stripe (API base unset or empty: api.stripe.com)
    stripe_api_key: SecretStr = SecretStr("sk_test_tenantry_dev")
    stripe_api_base: str | None = None
    stripe_webhook_secret: SecretStr = SecretStr("whsec_dev_placeholder")

    # Mail: smtp://, smtps:// or smtp+starttls:// with percent-encoded credentials; TLS
    # verifies the server's certificate against the system CAs, or this file's (a private CA).
    smtp_url: str = "smtp://127.0.0.1:1025"
    smtp_ca_file: Path | None = None
    mail_from: str = "Tenantry <noreply@tenantry.test>"
    admin_email: str = "ops@tenantry.test"

    # Secrets
    admin_token: SecretStr = _placeholder("admin-token")
    # Pod host credentials: hosts join with single-use tokens an admin mints (at most this
    # old) and then use a credential of their own; the edge agent's token may only report
    # traffic (`POST /v1/hosts/activity`, source `proxy`).
    host_join_token_max_ttl: Duration = timedelta(days=7)
    edge_token: SecretStr = _placeholder("edge-token")
    encryption_key: SecretStr = Field(
        default=SecretStr(DEV_ENCRYPTION_KEY),
        description="Fernet key(s), comma-separated, newest first; old keys still decrypt.",
    )
    # Signs signup status tokens: its own key, so rotating the encryption keys leaves
    # every open status link (and the token a repeated signup request returns) valid.
    status_token_key: SecretStr = _placeholder("status-token-key")

    # SSH to pod hosts and tenant servers
    ssh_key_path: Path = Path(".tenantry/ssh/id_ed25519")
    ssh_known_hosts_path: Path = Path(".tenantry/ssh/known_hosts")

    # Pods: the container runtime on pod hosts, the SSH login there, how many snapshots
    # a pod keeps, how long a host may go without a heartbeat before it gets no new pods,
    # and how soon a pod step on a dead worker is noticed (its heartbeat timeout).
    pod_host_user: str | None = None
    pod_snapshots_to_keep: int = Field(default=3, ge=1)
    host_heartbeat_timeout: Duration = timedelta(seconds=90)
    pod_step_heartbeat: Duration = timedelta(seconds=10)
    # Disk each pod host may spend keeping hibernated pods (stopped container and
    # workspace) so that a wake there starts them without a download; the oldest kept
    # go first, and only pods whose snapshot S3 verified are kept. 0 keeps none.
    pod_cache_budget_mb: int = Field(default=20480, ge=0)

    # Pods that strangers share a host with (README "Pods: isolation"): gVisor's runsc
    # unless runc is chosen here on purpose (a host without runsc then refuses pods); the
    # capabilities a dev environment keeps after --cap-drop ALL; the address the edge
    # dials, the only one pod ports are published on (unset: the host's SSH address); the
    # image prefixes a pod may use; the prefix of the per-account bridges (the host
    # firewall matches on it); where workspace filesystem images live on the hosts, and
    # how often a running pod's workspace is measured (a full one is shown on the pod).
    pod_runtime: Literal["runc", "runsc", "auto"] = "runsc"
    pod_capabilities: list[str] = Field(default_factory=lambda: list(DEFAULT_POD_CAPABILITIES))
    pod_publish_address: str | None = None
    pod_image_allowlist: list[str] = Field(default_factory=lambda: [POD_BASE_IMAGE_PREFIX])
    pod_bridge_prefix: str = Field(default="tnp", pattern=r"^[a-z][a-z0-9]{0,4}$")
    pod_workspace_root: Path = Path("/var/lib/tenantry/workspaces")
    pod_workspace_max_mb: int | None = Field(default=None, ge=8)
    pod_workspace_check: Duration = timedelta(minutes=5)

    @field_validator("pod_capabilities", "pod_image_allowlist", mode="before")
    @classmethod
    def _json_list(cls, value: object) -> object:
        """A list given as text is JSON (as in the environment, and as `to_env` writes it)."""
        return json.loads(value) if isinstance(value, str) else value

    @property
    def pod_isolation(self) -> PodIsolation:
        """The pod settings above as the pod-host client takes them."""
        return PodIsolation(
            runtime=self.pod_runtime,
            capabilities=tuple(self.pod_capabilities),
            publish_address=self.pod_publish_address,
            bridge_prefix=self.pod_bridge_prefix,
            workspace_root=str(self.pod_workspace_root),
            workspace_max_mb=self.pod_workspace_max_mb,
        )

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
    # A customer who paid before Checkout closed but whose webhook came late: provision
    # the tenant anyway, or refund the payment and cancel the subscription. Both mail them
    # and the admin.
    late_payment: Literal["provision", "refund"] = "provision"
    health_gate_budget: Duration = timedelta(minutes=10)
    payment_grace: Duration = timedelta(days=7)
    # Prepaid accounts: how long pods keep running after the credits reach zero.
    credits_grace: Duration = timedelta(hours=24)
    # Pod usage invoices: how long an account's pods keep running after an invoice's
    # payment failed, before they hibernate (and no pod starts until it is paid).
    account_payment_grace: Duration = timedelta(days=7)
    # A tenant's workflow continues-as-new past this many history events (Temporal may ask sooner).
    tenant_history_limit: int = 10_000
    # How long a short step (a database write, a Stripe call) may take before it is retried.
    step_timeout: Duration = timedelta(seconds=30)
    # When provisioning fails for good: cancel the subscription, or keep it for a repair.
    failed_signup_subscription: Literal["cancel", "keep"] = "cancel"

    # The warm pool of tenant servers (README "Warm pool"): booted servers kept per
    # `tier/location`, e.g. {"starter/fsn1": 2} (none: every signup creates its server);
    # how long without a claim until a pool shrinks to none (the next signup refills it),
    # and how often a pool checks its count besides the signal each claim sends.
    server_pool_sizes: dict[str, Annotated[int, Field(ge=0)]] = {}
    server_pool_idle: Duration = timedelta(hours=6)
    server_pool_check: Duration = timedelta(minutes=1)

    @field_validator("server_pool_sizes", mode="before")
    @classmethod
    def _pool_sizes(cls, value: object) -> object:
        """JSON text (as in the environment); keys are `tier/location`."""
        sizes = json.loads(value) if isinstance(value, str) else value
        if isinstance(sizes, dict):
            for key in sizes:
                tier, sep, location = str(key).partition("/")
                if not sep or tier not in {t.value for t in TenantTier} or not location:
                    raise ValueError(f"server pool {key!r}: expected `starter|pro/<location>`")
        return sizes

    def pool_size(self, tier: str, location: str) -> int:
        return self.server_pool_sizes.get(f"{tier}/{location}", 0)

    # Fleet operations: how long a rolled-out tenant may take to answer healthy on the new
    # tag (and again on the old one after a rollback); how often `health-sweep` runs.
    rollout_health_budget: Duration = timedelta(minutes=2)
    health_sweep_interval: Duration = timedelta(minutes=5)
    # A rollout's workflow continues-as-new past this many history events.
    rollout_history_limit: int = 10_000

    # Observability (see tenantry.observability): traces go over OTLP/HTTP to this collector
    # base URL (e.g. http://collector:4318; the standard OTEL_EXPORTER_OTLP_ENDPOINT is the
    # fallback), none when unset; `json` logs one JSON object per line.
    otlp_endpoint: str | None = Field(
        default_factory=lambda: os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None
    )
    log_format: Literal["text", "json"] = "text"

    @model_validator(mode="before")
    @classmethod
    def _dev_defaults(cls, data: Any) -> Any:
        """Outside production, what is not set at all points at the local stack."""
        if not isinstance(data, dict) or data.get("env", "production") == "production":
            return data
        return {**DEV_DEFAULTS, **data}

    @field_validator(*EMPTY_MEANS_UNSET, mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        return None if isinstance(raw, str) and not raw.strip() else value

    @model_validator(mode="after")
    def _aws_keys_together(self) -> CoreSettings:
        if (self.aws_access_key_id is None) != (self.aws_secret_access_key is None):
            raise ValueError(
                "set both TENANTRY_AWS_ACCESS_KEY_ID and TENANTRY_AWS_SECRET_ACCESS_KEY, or "
                "neither (AWS's default credential chain)"
            )
        return self

    @model_validator(mode="after")
    def _temporal_tls_pair(self) -> CoreSettings:
        if (self.temporal_tls_cert_path is None) != (self.temporal_tls_key_path is None):
            raise ValueError(
                "mTLS needs both TENANTRY_TEMPORAL_TLS_CERT_PATH and TENANTRY_TEMPORAL_TLS_KEY_PATH"
            )
        return self

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

    @model_validator(mode="after")
    def _refuse_emulators_in_production(self) -> CoreSettings:
        if self.env != "production" or self.allow_nonproduction_endpoints:
            return self
        wrong = []
        for name in PROVIDER_ENDPOINTS:
            url = getattr(self, name)
            why = nonproduction_endpoint(url) if url else None
            if why:
                wrong.append(f"TENANTRY_{name.upper()}={url} ({why})")
        if wrong:
            raise ValueError(
                "production refuses emulator endpoints: "
                + "; ".join(wrong)
                + ". Leave them empty for the real services, or set "
                "TENANTRY_ALLOW_NONPRODUCTION_ENDPOINTS=true (staging)"
            )
        return self

    @property
    def temporal_uses_tls(self) -> bool:
        return self.temporal_tls or any(
            value is not None
            for value in (
                self.temporal_tls_cert_path,
                self.temporal_tls_ca_path,
                self.temporal_tls_server_name,
                self.temporal_api_key,
            )
        )

    def to_env(self) -> dict[str, str]:
        """These settings as `TENANTRY_*` variables, for a child process (worker, API).

        An unset endpoint or AWS key is passed as empty, which means the same thing
        (the real service) whatever the child's environment would default it to.
        """
        env: dict[str, str] = {}
        for name, value in self:
            if value is None:
                if name in EMPTY_MEANS_UNSET:
                    env[f"TENANTRY_{name.upper()}"] = ""
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, timedelta):
                value = f"{value.total_seconds():g}"
            elif isinstance(value, list | dict):
                value = json.dumps(value)  # how pydantic-settings reads a list or a dict
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

    # -- Self-serve accounts (POST /v1/accounts, /v1/accounts/verify) -------------------
    # A mailed verification link works once, for this long.
    account_verification_ttl: Duration = Field(default=timedelta(hours=24), gt=timedelta(0))
    # The page the mail links to, with `#token=...` appended (a fragment: the token
    # reaches no server log; the page posts it to /v1/accounts/verify); unset, the API's own
    # confirmation page (`{public_url}/v1/accounts/verify`).
    account_verify_url: str | None = None
    # Requests per client address per minute (each route), and mails per address per
    # hour: the same limits answer a known and an unknown address alike.
    account_rate_limit_per_minute: int = Field(default=10, ge=1)
    account_mails_per_email_per_hour: int = Field(default=3, ge=1)

    # -- The API's public surface (request limits, proxies, docs and metrics) ----------
    # Bodies over these are answered 413 before they are read whole (api/body_limit.py).
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    webhook_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Peers whose X-Forwarded-For is believed (CIDRs, comma-separated or a JSON list);
    # none by default, so a client cannot pick its own rate-limit bucket.
    trusted_proxies: Annotated[list[IPNetwork], NoDecode, BeforeValidator(_cidr_list)] = Field(
        default_factory=list
    )
    # /metrics needs this bearer token when set; in production /metrics is off without it.
    metrics_token: SecretStr | None = None


class WorkerSettings(CoreSettings):
    """The Temporal worker process."""

    max_concurrent_activities: int = 100
    activity_threads: int = 32
    graceful_shutdown: Duration = timedelta(seconds=30)

    # Observability: the Temporal SDK's own Prometheus exporter (`temporal_*`), and the
    # worker's status server (product gauges at /metrics, GET /healthz for a healthcheck).
    # Two ports, because the SDK's exporter lives in its Rust core and cannot add ours.
    worker_metrics_address: str = "127.0.0.1:9464"
    worker_status_address: str = "127.0.0.1:9465"
    worker_health_timeout: Duration = timedelta(seconds=2)


class EdgeAgentSettings(CoreSettings):
    """The edge agent (`tenantry edge-agent`): Caddy's access log, reported as pod activity
    to the API at `public_url` with the edge token, once per interval."""

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

    env: Literal["dev", "test", "production"] = "production"
    api_url: str = "http://127.0.0.1:8000"
    # A single-use join token (`tenantry hosts join-token`) is exchanged at the first
    # registration for this host's own credential, kept in `host_credential_file` (0600)
    # and used for every later call; the join token is not needed again.
    host_join_token: SecretStr | None = None
    host_credential_file: Path = Path("/var/lib/tenantry/host-credential.json")
    host_name: str | None = None
    host_address: str | None = None
    host_ssh_port: int = Field(default=22, ge=1, le=65535)
    host_key_file: Path = Path("/etc/ssh/ssh_host_ed25519_key.pub")
    host_cpu_millis: int | None = Field(default=None, ge=0)
    host_memory_mb: int | None = Field(default=None, ge=0)
    host_heartbeat_interval: Duration = Field(default=timedelta(seconds=30), gt=timedelta(0))
    log_format: Literal["text", "json"] = "text"  # as CoreSettings.log_format
    # The pod firewall (`tenantry.agents.host.network`), put in place and checked before
    # the agent registers: `docker-user` where Docker manages iptables (a real pod host),
    # `forward` for a daemon run with --iptables=false (the dev and test daemons), `off`
    # only where every pod is trusted. A host whose rules cannot be installed takes no pods.
    pod_firewall: Literal["docker-user", "forward", "off"] = "docker-user"
    # The prefix of the accounts' pod bridges: the worker's TENANTRY_POD_BRIDGE_PREFIX.
    pod_bridge_prefix: str = Field(default="tnp", pattern=r"^[a-z][a-z0-9]{0,4}$")
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
