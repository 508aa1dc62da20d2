"""Every workflow and activity the worker runs, with activities built from settings.

Clients are built here, once per worker, and injected into the activity classes; tests
build the same classes with clients pointed at the local stack.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from activities.billing import BillingActivities
from activities.dns import DnsActivities
from activities.health import HealthActivities
from activities.hetzner import HetznerActivities
from activities.mail import MailActivities
from activities.records import RecordActivities
from activities.userdata import TenantUserData
from db.session import make_async_engine, make_async_sessionmaker, make_engine, make_sessionmaker
from tenantry.clients import (
    hetzner_client,
    hosted_zone_id,
    route53_client,
    stripe_client,
)
from tenantry.settings import CoreSettings
from workflows.signup import SignupWorkflow
from workflows.tenant import TenantWorkflow


def workflows() -> list[type]:
    return [SignupWorkflow, TenantWorkflow]


def control_plane_public_key(settings: CoreSettings) -> str:
    path = settings.ssh_key_path.with_name(settings.ssh_key_path.name + ".pub")
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        raise SystemExit(
            f"the control plane's SSH public key {path} is missing: generate it with "
            f"`ssh-keygen -t ed25519 -N '' -f {settings.ssh_key_path}` or set TENANTRY_SSH_KEY_PATH"
        ) from None


def build_activities(settings: CoreSettings) -> Sequence[Callable[..., Any]]:
    sync_sessions = make_sessionmaker(make_engine(settings.database_url))
    async_sessions = make_async_sessionmaker(make_async_engine(settings.database_url))
    route53 = route53_client(settings)

    records = RecordActivities(async_sessions)
    hetzner = HetznerActivities(
        hetzner_client(settings),
        user_data_for=TenantUserData(
            sync_sessions,
            authorized_keys=[control_plane_public_key(settings)],
            app_image=settings.tenant_app_image,
            base_domain=settings.base_domain,
        ),
        location=settings.hetzner_location,
        image=settings.hetzner_image,
        poll_interval=settings.provider_poll_interval.total_seconds(),
    )
    dns = DnsActivities(
        route53,
        zone_id=hosted_zone_id(settings, route53),
        poll_interval=settings.provider_poll_interval.total_seconds(),
    )
    billing = BillingActivities(stripe_client(settings), public_url=settings.public_url)
    mail = MailActivities(settings.smtp_url, sender=settings.mail_from, sessions=sync_sessions)
    health = HealthActivities(ssh_key_path=settings.ssh_key_path)
    return [
        records.save_signup,
        records.log_provisioning,
        records.ensure_tenant,
        records.update_tenant,
        records.audit,
        hetzner.create_server,
        hetzner.delete_server_if_present,
        dns.upsert_dns_record,
        dns.delete_dns_record_if_present,
        billing.create_customer,
        billing.create_checkout_session,
        billing.expire_checkout_session_if_open,
        billing.cancel_subscription_if_present,
        billing.ensure_subscription_active,
        mail.send_email,
        health.wait_healthy,
    ]
