"""Every workflow and activity the worker runs, with activities built from settings.

Clients are built here, once per worker, and injected into the activity classes; tests
build the same classes with clients pointed at the local stack.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from temporalio.client import Client

from activities.account_billing import AccountBillingActivities
from activities.billing import BillingActivities
from activities.credits import CreditsActivities
from activities.dns import DnsActivities
from activities.edge import EdgeActivities
from activities.health import HealthActivities
from activities.health_sweep import HealthSweepActivities
from activities.hetzner import HetznerActivities
from activities.mail import MailActivities
from activities.metering import MeteringActivities
from activities.pods.hosts import PinnedClients, PodHostActivities
from activities.pods.records import PodRecordActivities
from activities.pool import PoolActivities
from activities.rollouts import RolloutActivities
from activities.tenant_records import RecordActivities
from activities.tenant_stack import TenantStackActivities
from activities.userdata import PoolUserData, TenantUserData
from db.session import make_async_engine, make_async_sessionmaker, make_engine, make_sessionmaker
from tenantry.clients.caddy import CaddyAdmin
from tenantry.clients.podhost import PodHostClient
from tenantry.clients.sdk import (
    hetzner_client,
    hosted_zone_id,
    route53_client,
    s3_client,
    stripe_client,
    stripe_meter_stream_client,
)
from tenantry.clients.smtp import smtp_mailer
from tenantry.settings import CoreSettings
from workflows.account_billing import AccountBillingWorkflow
from workflows.credits import CreditsWorkflow
from workflows.health_sweep import HealthSweepWorkflow
from workflows.metering import MeteringWorkflow
from workflows.pod import PodWorkflow
from workflows.pool import ServerPoolWorkflow
from workflows.rollout import RolloutWorkflow
from workflows.signup import SignupWorkflow
from workflows.tenant import TenantWorkflow


def workflows() -> list[type]:
    return [
        SignupWorkflow,
        TenantWorkflow,
        PodWorkflow,
        MeteringWorkflow,
        CreditsWorkflow,
        AccountBillingWorkflow,
        RolloutWorkflow,
        HealthSweepWorkflow,
        ServerPoolWorkflow,
    ]


def control_plane_public_key(settings: CoreSettings) -> str:
    path = settings.ssh_key_path.with_name(settings.ssh_key_path.name + ".pub")
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        raise SystemExit(
            f"the control plane's SSH public key {path} is missing: generate it with "
            f"`ssh-keygen -t ed25519 -N '' -f {settings.ssh_key_path}` or set TENANTRY_SSH_KEY_PATH"
        ) from None


def build_activities(settings: CoreSettings, client: Client) -> Sequence[Callable[..., Any]]:
    """`client` is for activities that message other workflows (credits -> pods,
    rollouts -> tenants)."""
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
    pool = pool_activities(settings, sync_sessions)
    dns = DnsActivities(
        route53,
        zone_id=hosted_zone_id(settings, route53),
        poll_interval=settings.provider_poll_interval.total_seconds(),
    )
    billing = BillingActivities(stripe_client(settings), public_url=settings.public_url)
    mail = MailActivities(smtp_mailer(settings), sessions=sync_sessions)
    health = HealthActivities(ssh_key_path=settings.ssh_key_path)
    metering = MeteringActivities(
        sync_sessions,
        stripe_client(settings),
        stream_client=lambda token: stripe_meter_stream_client(settings, token),
    )
    credits = CreditsActivities(
        async_sessions,
        client,
        task_queue=settings.task_queue,
        grace_seconds=settings.credits_grace.total_seconds(),
        mailer=mail.send_email,
    )
    account_billing = AccountBillingActivities(
        sync_sessions, async_sessions, stripe_client(settings), client
    )
    stack = TenantStackActivities(async_sessions, ssh_key_path=settings.ssh_key_path)
    pod_hosts, pod_records = pod_activities(settings, async_sessions)
    edge = EdgeActivities(
        CaddyAdmin(settings.caddy_admin_url, settings.edge_server),
        base_domain=settings.pod_base_domain,
        wake_upstream=settings.edge_wake_upstream,
    )
    rollouts = RolloutActivities(async_sessions, client)
    sweep = HealthSweepActivities(async_sessions, heartbeat_timeout=settings.host_heartbeat_timeout)
    return [
        *pod_hosts,
        *pod_records,
        edge.edge_route_pod,
        edge.edge_remove_pod_routes_if_present,
        records.log_provisioning,
        records.record_signup_progress,
        records.ensure_tenant,
        records.record_tenant_change,
        records.audit,
        hetzner.create_server,
        hetzner.delete_server_if_present,
        hetzner.resize_server,
        pool.pool_census,
        pool.pool_create_server,
        pool.pool_delete_server_if_present,
        pool.pool_retire_server,
        pool.pool_claim_server,
        pool.pool_prepare_server,
        pool.pool_release_if_present,
        stack.run_stack_command,
        dns.upsert_dns_record,
        dns.delete_dns_record_if_present,
        billing.create_customer,
        billing.create_checkout_session,
        billing.close_checkout_session,
        billing.cancel_subscription_if_present,
        billing.refund_latest_payment_if_any,
        billing.ensure_subscription_active,
        billing.change_subscription_price,
        mail.send_email,
        health.wait_healthy,
        metering.metering_hours,
        metering.ensure_meters,
        metering.meter_usage_page,
        metering.report_usage,
        metering.mark_hour_metered,
        credits.credits_start_grace,
        credits.credits_balance,
        credits.credits_notify_depleted,
        credits.credits_hibernate_pods,
        account_billing.billing_subscribe,
        account_billing.billing_standing,
        account_billing.billing_hibernate_pods,
        rollouts.rollout_prepare,
        rollouts.rollout_targets,
        rollouts.rollout_record_status,
        rollouts.rollout_finish_pending,
        rollouts.rollout_deploy_tenant,
        sweep.health_sweep_page,
        sweep.health_stale_hosts,
    ]


def pool_activities(settings: CoreSettings, sync_sessions: Any) -> PoolActivities:
    """The warm pool's activities: pool servers get generic cloud-init (no tenant's data)."""
    client = hetzner_client(settings)
    user_data = PoolUserData(
        sync_sessions,
        authorized_keys=[control_plane_public_key(settings)],
        app_image=settings.tenant_app_image,
    )
    poll = settings.provider_poll_interval.total_seconds()

    def hetzner_for(location: str) -> HetznerActivities:
        return HetznerActivities(
            client,
            user_data_for=user_data,
            location=location or settings.hetzner_location,
            image=settings.hetzner_image,
            poll_interval=poll,
        )

    return PoolActivities(
        sync_sessions,
        client,
        hetzner_for=hetzner_for,
        ssh_key_path=settings.ssh_key_path,
        base_domain=settings.base_domain,
        poll_interval=poll,
    )


def pod_activities(
    settings: CoreSettings, async_sessions: Any
) -> tuple[list[Callable[..., Any]], list[Callable[..., Any]]]:
    """The pod activities: host operations (one pinned client per host key) and records."""
    s3 = s3_client(settings)

    def make_client(known_hosts: list[str]) -> PodHostClient:
        return PodHostClient(
            ssh_key_path=settings.ssh_key_path,
            known_hosts=known_hosts,
            s3=s3,
            ssh_user=settings.pod_host_user,
            isolation=settings.pod_isolation,
        )

    hosts = PodHostActivities(
        PinnedClients(make_client),
        s3,
        async_sessions,
        cache_budget_bytes=settings.pod_cache_budget_mb * 1024 * 1024,
    )
    records = PodRecordActivities(async_sessions, heartbeat_timeout=settings.host_heartbeat_timeout)
    return (
        [
            hosts.pod_run_container,
            hosts.pod_stop_container,
            hosts.pod_remove_container_if_present,
            hosts.pod_remove_workspace_if_present,
            hosts.pod_container_state,
            hosts.pod_workspace_usage,
            hosts.pod_snapshot_to_s3,
            hosts.pod_verify_snapshot,
            hosts.pod_restore_from_s3,
            hosts.pod_keep_cached,
            hosts.pod_delete_snapshot_if_present,
        ],
        [
            records.pod_reserve_host,
            records.pod_record_status,
            records.pod_record_activity,
            records.pod_record_snapshot,
            records.pod_delete_keys,
        ],
    )
