"""The raw baseline of a signup: the same external calls a signup makes, in sequence, no Temporal.

Stripe customer and Checkout session, payment on the hosted page, the session seen
complete, a Hetzner server with the tenant's cloud-init (its actions polled), the Route53
record (polled to INSYNC), the health gate (`GET /health`, then SSH with the pinned host
key and `cloud-init status --wait`) and the welcome mail. Same SDK clients, built by the
same factories from the worker's own settings, same poll interval. What it leaves out is
exactly what the product adds: durable state (workflow history, PostgreSQL records, the
provisioning log), idempotency bookkeeping and compensation.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import asyncssh
import httpx
from hcloud.images import Image
from hcloud.locations import Location
from hcloud.server_types import ServerType

from activities.cloudinit import user_data
from activities.secrets_gen import new_tenant_secrets
from tenantry.clients.sdk import hetzner_client, hosted_zone_id, route53_client, stripe_client
from tenantry.clients.smtp import SmtpMailer
from tenantry.rules.plans import TENANT_PLANS, TenantTier
from tenantry.settings import WorkerSettings
from tests.support.checkout import pay


class RawSignup:
    """One plain script's worth of clients, reused across runs like the worker's."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.poll = settings.provider_poll_interval.total_seconds()
        self.stripe = stripe_client(settings)
        self.hcloud = hetzner_client(settings, poll_interval=self.poll)
        self.route53 = route53_client(settings)
        self.zone_id = hosted_zone_id(settings, self.route53)
        self.mailer = SmtpMailer(settings.smtp_url, sender=settings.mail_from)
        # Built once, as the worker's health gate builds its own.
        self.tls = httpx.create_ssl_context()
        key_path = settings.ssh_key_path
        self.client_key = key_path
        self.authorized = key_path.with_name(key_path.name + ".pub").read_text().strip()
        plan = TENANT_PLANS[TenantTier.STARTER]
        prices = self.stripe.v1.prices.list(params={"lookup_keys": [plan.price_lookup_key]})
        if not prices.data:
            raise RuntimeError("no starter price yet: run one product signup first")
        self.price_id = prices.data[0].id

    def run(self, subdomain: str, email: str) -> float:
        """Signs `subdomain` up end to end; returns the seconds it took."""
        began = time.perf_counter()
        ip, host_public = self._checkout_and_server(subdomain, email)
        fqdn = f"{subdomain}.{self.settings.base_domain}"
        self._dns(fqdn, ip)
        asyncio.run(self._health(ip, fqdn, host_public))
        self.mailer.send(
            to=email,
            subject=f"Welcome to Tenantry: {fqdn} is ready",
            body=f"Your instance is live at https://{fqdn}\n",
        )
        return time.perf_counter() - began

    def _checkout_and_server(self, subdomain: str, email: str) -> tuple[str, str]:
        customer = self.stripe.v1.customers.create(params={"email": email})
        session = self.stripe.v1.checkout.sessions.create(
            params={
                "mode": "subscription",
                "customer": customer.id,
                "line_items": [{"price": self.price_id, "quantity": 1}],
                "success_url": f"{self.settings.public_url}/paid",
                "expires_at": int((datetime.now(UTC) + timedelta(hours=1)).timestamp()),
            }
        )
        assert session.url is not None
        response = pay(session.url)
        if response.status_code >= 400:
            raise RuntimeError(f"payment failed: {response.status_code}")
        while self.stripe.v1.checkout.sessions.retrieve(session.id).status != "complete":
            time.sleep(self.poll)
        secrets = new_tenant_secrets(subdomain)
        created = self.hcloud.servers.create(
            name=f"raw-{subdomain}",
            server_type=ServerType(name=TENANT_PLANS[TenantTier.STARTER].server_type),
            image=Image(name=self.settings.hetzner_image),
            location=Location(name=self.settings.hetzner_location),
            user_data=user_data(
                hostname=f"raw-{subdomain}",
                host_key_private=secrets["ssh_host_private_key"],
                host_key_public=secrets["ssh_host_public_key"],
                authorized_keys=[self.authorized],
                stack_env={"TENANT_DOMAIN": f"{subdomain}.{self.settings.base_domain}"},
                app_image=self.settings.tenant_app_image,
            ),
            labels={"bench": "raw"},
        )
        assert created.action is not None and created.server.id is not None
        while self.hcloud.actions.get_by_id(created.action.id).status != "success":
            time.sleep(self.poll)
        server = self.hcloud.servers.get_by_id(created.server.id)
        while server.status != "running":
            time.sleep(self.poll)
            server = self.hcloud.servers.get_by_id(created.server.id)
        assert server.public_net is not None and server.public_net.ipv4 is not None
        return str(server.public_net.ipv4.ip), secrets["ssh_host_public_key"]

    def _dns(self, fqdn: str, ip: str) -> None:
        change = self.route53.change_resource_record_sets(
            HostedZoneId=self.zone_id,
            ChangeBatch={
                "Changes": [
                    {
                        "Action": "UPSERT",
                        "ResourceRecordSet": {
                            "Name": fqdn + ".",
                            "Type": "A",
                            "TTL": 60,
                            "ResourceRecords": [{"Value": ip}],
                        },
                    }
                ]
            },
        )
        change_id = change["ChangeInfo"]["Id"]
        while self.route53.get_change(Id=change_id)["ChangeInfo"]["Status"] != "INSYNC":
            time.sleep(self.poll)

    async def _health(self, ip: str, fqdn: str, host_public: str) -> None:
        delay = 0.25
        async with httpx.AsyncClient(timeout=5.0, verify=self.tls) as http:
            while True:
                try:
                    response = await http.get(f"http://{ip}/health", headers={"Host": fqdn})
                    if response.status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        async with asyncssh.connect(
            ip,
            username="root",
            known_hosts=asyncssh.import_known_hosts(f"{ip} {host_public}\n"),
            client_keys=[str(self.client_key)],
            connect_timeout=10,
        ) as conn:
            result = await conn.run("cloud-init status --wait", check=False, timeout=60)
        if result.exit_status != 0:
            raise RuntimeError(f"cloud-init on {ip} did not finish: {result.stderr!s}")
