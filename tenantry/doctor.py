"""`tenantry doctor`: is this process's configuration one the product can run on?

It loads the settings as the API and the worker would, then reaches every service they
use, with the cheapest call that proves the part that matters (authenticated, the
object exists, we may write): a deployment that passes starts and serves signups. It
changes nothing but one probe object in the snapshot bucket, deleted again at once.
Each check prints one line; a failing one says what to fix. Exit 1 on any failure.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlparse

import httpx
from pydantic import ValidationError

from tenantry.settings import CoreSettings

TIMEOUT = 10.0
DETAIL_LIMIT = 300
WEBHOOK_PATH = "/v1/stripe/webhook"


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, what was found, and the fix if failing."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        """One line whatever the SDKs' messages hold (some span several, some a page)."""
        detail = " ".join(self.detail.split())
        if len(detail) > DETAIL_LIMIT:
            detail = detail[: DETAIL_LIMIT - 3] + "..."
        status = "ok  " if self.ok else "FAIL"
        fix = f" -> fix: {self.fix}" if not self.ok and self.fix else ""
        return f"{status} {self.name}: {detail}{fix}"


class Failed(Exception):
    """A check's finding with its fix (raised inside a check, reported as its line)."""

    def __init__(self, detail: str, fix: str) -> None:
        super().__init__(detail)
        self.fix = fix


def handled_stripe_events() -> frozenset[str]:
    """The event types the API's webhook acts on (api.stripe_events routes them)."""
    from api.stripe_events import TENANT_EVENTS

    return frozenset({"checkout.session.completed", *TENANT_EVENTS})


# -- the checks, each a function of the settings that returns its "ok" detail ------------
def check_database(settings: CoreSettings) -> str:
    from alembic.script import ScriptDirectory

    from db.migrate import alembic_config, current_revision

    head = ScriptDirectory.from_config(alembic_config(settings.database_url)).get_current_head()
    current = current_revision(settings.database_url)
    if current != head:
        raise Failed(f"schema at {current or 'nothing'}, head is {head}", "run `tenantry migrate`")
    return f"reachable, schema at head ({head})"


def check_temporal(settings: CoreSettings) -> str:
    return asyncio.run(asyncio.wait_for(_temporal(settings), TIMEOUT))


async def _temporal(settings: CoreSettings) -> str:
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
    from temporalio.service import RPCError

    from tenantry.clients.temporal import connect
    from tenantry.contracts.common import SEARCH_ATTRIBUTES

    namespace = settings.temporal_namespace
    client = await connect(settings)
    try:
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=namespace)
        )
    except RPCError as exc:
        raise Failed(
            f"namespace {namespace!r}: {exc.message}",
            f"create it (`temporal operator namespace create {namespace}`) or set "
            "TENANTRY_TEMPORAL_NAMESPACE",
        ) from exc
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    registered = dict(listed.custom_attributes)
    keyword = IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
    missing = [a.name for a in SEARCH_ATTRIBUTES if registered.get(a.name) != keyword]
    if missing:
        commands = "; ".join(
            f"temporal operator search-attribute create --namespace {namespace} "
            f"--name {name} --type Keyword"
            for name in missing
        )
        raise Failed(f"search attributes missing: {', '.join(missing)}", commands)
    return f"namespace {namespace!r} at {settings.temporal_address}, search attributes registered"


def check_hetzner(settings: CoreSettings) -> str:
    from hcloud import APIException

    from tenantry.clients.sdk import hetzner_client

    try:
        page = hetzner_client(settings).servers.get_list(page=1, per_page=1)
    except APIException as exc:
        fix = "set TENANTRY_HETZNER_TOKEN to a read/write API token of the project"
        raise Failed(f"{exc.code}: {exc.message}", fix) from exc
    total = page.meta.pagination.total_entries if page.meta and page.meta.pagination else "?"
    return f"token accepted ({total} servers in the project)"


def check_route53(settings: CoreSettings) -> str:
    from tenantry.clients.sdk import hosted_zone_id, route53_client

    route53 = route53_client(settings)
    try:
        zone_id = hosted_zone_id(settings, route53)
    except LookupError as exc:
        raise Failed(str(exc).split(";")[0], f"create the zone for {settings.base_domain}") from exc
    zone = route53.get_hosted_zone(Id=zone_id)["HostedZone"]
    return f"zone {zone['Name']} ({zone_id})"


def check_s3(settings: CoreSettings) -> str:
    from tenantry.clients.sdk import s3_client

    s3 = s3_client(settings)
    key = f"tenantry-doctor/probe-{uuid.uuid4().hex}"
    bucket = settings.s3_bucket
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=b"tenantry doctor probe\n")
    except Exception as exc:  # botocore's errors share no useful base with the network's
        raise Failed(
            f"cannot write to bucket {bucket}: {exc}",
            f"create bucket {bucket} or grant s3:PutObject and s3:DeleteObject on it "
            "(or set TENANTRY_S3_BUCKET)",
        ) from exc
    s3.delete_object(Bucket=bucket, Key=key)
    return f"bucket {bucket} writable (probe object written and deleted)"


def _stripe_mode(key: str) -> str:
    for prefix, mode in (("sk_live_", "live"), ("rk_live_", "live")):
        if key.startswith(prefix):
            return mode
    return "test" if key.startswith(("sk_test_", "rk_test_")) else "unknown"


def check_stripe_key(settings: CoreSettings) -> str:
    from tenantry.clients.sdk import stripe_client

    key = settings.stripe_api_key.get_secret_value()
    mode = _stripe_mode(key)
    if mode == "unknown":
        raise Failed(
            "the key is neither a secret (sk_) nor a restricted (rk_) key",
            "set TENANTRY_STRIPE_API_KEY",
        )
    stripe_client(settings).v1.webhook_endpoints.list(params={"limit": 1})
    return f"accepted, {mode} mode" + (" (no real charges)" if mode == "test" else "")


def check_stripe_prices(settings: CoreSettings) -> str:
    from tenantry.clients.sdk import stripe_client
    from tenantry.rules.plans import TENANT_PLANS

    keys = sorted(plan.price_lookup_key for plan in TENANT_PLANS.values())
    found = stripe_client(settings).v1.prices.list(
        params={"lookup_keys": keys, "active": True, "limit": 100}
    )
    missing = sorted(set(keys) - {p.lookup_key for p in found.data if p.lookup_key})
    if missing:
        raise Failed(
            f"no active price with lookup key {', '.join(missing)}",
            "create them (a monthly price per tier in tenantry/rules/plans.py, with these "
            "lookup keys); the worker creates missing ones at the first signup",
        )
    return f"{len(keys)} tier prices present"


def check_stripe_meters(settings: CoreSettings) -> str:
    from tenantry.clients.sdk import stripe_client
    from tenantry.rules.metering import meter_event_names

    meters = stripe_client(settings).v1.billing.meters.list(
        params={"status": "active", "limit": 100}
    )
    present = {m.event_name for m in meters.auto_paging_iter()}
    missing = [name for name in meter_event_names() if name not in present]
    if missing:
        raise Failed(
            f"no active meter for {', '.join(missing)}",
            "create a sum meter per event name (the worker's hourly metering creates "
            "missing ones on its first run)",
        )
    return f"{len(meter_event_names())} meters present"


def check_stripe_webhook(settings: CoreSettings) -> str:
    from tenantry.clients.sdk import stripe_client

    url = settings.public_url.rstrip("/") + WEBHOOK_PATH
    wanted = handled_stripe_events()
    endpoints = stripe_client(settings).v1.webhook_endpoints.list(params={"limit": 100})
    mine = [e for e in endpoints.auto_paging_iter() if e.url == url]
    fix = (
        f"register {url} in Stripe (Developers > Webhooks) for {', '.join(sorted(wanted))} "
        "and put its signing secret in TENANTRY_STRIPE_WEBHOOK_SECRET"
    )
    if not mine:
        raise Failed(f"no webhook endpoint for {url}", fix)
    problems = []
    for endpoint in mine:
        enabled = set(endpoint.enabled_events or [])
        missing = set() if "*" in enabled else wanted - enabled
        if endpoint.status == "enabled" and not missing:
            return f"{url} registered for the {len(wanted)} events the API handles"
        problems.append(
            f"{endpoint.id} is {endpoint.status}"
            + (f" and misses {', '.join(sorted(missing))}" if missing else "")
        )
    raise Failed(f"webhook endpoint for {url}: {'; '.join(problems)}", fix)


def check_smtp(settings: CoreSettings) -> str:
    from tenantry.clients.smtp import smtp_mailer

    try:
        smtp_mailer(settings, timeout=TIMEOUT).login()
    except Exception as exc:  # smtplib, ssl and socket errors alike: all mean no mail
        raise Failed(
            f"{type(exc).__name__}: {exc}",
            "check TENANTRY_SMTP_URL (host, port, scheme, percent-encoded credentials) and "
            "TENANTRY_SMTP_CA_FILE for a private CA",
        ) from exc
    parsed = urlparse(settings.smtp_url)
    tls = {"smtps": ", TLS verified", "smtp+starttls": ", STARTTLS verified"}.get(parsed.scheme, "")
    login = ", login accepted" if parsed.username else ", no login configured"
    return f"{parsed.hostname}:{parsed.port or 'default port'} reached{tls}{login}"


def check_caddy(settings: CoreSettings) -> str:
    url = f"{settings.caddy_admin_url.rstrip('/')}/config/apps/http/servers/{settings.edge_server}"
    response = httpx.get(url, timeout=TIMEOUT)
    if response.status_code != 200 or response.json() is None:
        raise Failed(
            f"admin API answered {response.status_code} with no server {settings.edge_server!r}",
            "start Caddy with the edge config (TENANTRY_CADDY_ADMIN_URL, TENANTRY_EDGE_SERVER)",
        )
    return f"admin API at {settings.caddy_admin_url}, server {settings.edge_server!r} present"


CHECKS: list[tuple[str, Callable[[CoreSettings], str], str]] = [
    ("database", check_database, "check TENANTRY_DATABASE_URL and that PostgreSQL is up"),
    ("temporal", check_temporal, "check TENANTRY_TEMPORAL_ADDRESS and its TLS/API key settings"),
    ("hetzner", check_hetzner, "check TENANTRY_HETZNER_TOKEN and TENANTRY_HETZNER_ENDPOINT"),
    ("route53", check_route53, "check the AWS credentials and TENANTRY_ROUTE53_HOSTED_ZONE_ID"),
    ("s3", check_s3, "check the AWS credentials, TENANTRY_S3_BUCKET and TENANTRY_S3_ENDPOINT"),
    ("stripe key", check_stripe_key, "check TENANTRY_STRIPE_API_KEY"),
    ("stripe prices", check_stripe_prices, "check TENANTRY_STRIPE_API_KEY"),
    ("stripe meters", check_stripe_meters, "check TENANTRY_STRIPE_API_KEY"),
    ("stripe webhook", check_stripe_webhook, "check TENANTRY_STRIPE_API_KEY"),
    ("smtp", check_smtp, "check TENANTRY_SMTP_URL"),
    ("caddy", check_caddy, "check TENANTRY_CADDY_ADMIN_URL and that Caddy runs"),
]


def run_checks(settings: CoreSettings) -> Iterator[Check]:
    """Every check in order; one failing never stops the others."""
    for name, check, fallback_fix in CHECKS:
        try:
            yield Check(name, True, check(settings))
        except Failed as exc:
            yield Check(name, False, str(exc), exc.fix)
        except Exception as exc:  # any other error is this check's finding, not a crash
            yield Check(name, False, f"{type(exc).__name__}: {exc}", fallback_fix)


def load_settings() -> CoreSettings | Check:
    """The settings as the API and the worker load them, or the failing line."""
    try:
        settings = CoreSettings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        return Check("settings", False, problems, "set the TENANTRY_* variables named here")
    return settings


def run_doctor(echo: Callable[[str], None] = print) -> int:
    """Prints one line per check; 0 when all pass, 1 otherwise."""
    loaded = load_settings()
    if isinstance(loaded, Check):
        echo(loaded.line())
        return 1
    echo(Check("settings", True, f"TENANTRY_ENV={loaded.env}").line())
    failed = 0
    for check in run_checks(loaded):
        echo(check.line())
        failed += not check.ok
    echo("all checks passed" if not failed else f"{failed} check(s) failed")
    return 1 if failed else 0
