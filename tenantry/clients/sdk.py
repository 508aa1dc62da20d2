"""SDK clients built from settings: the one place endpoints and credentials meet code.

Endpoint overrides (the local stack's emulators and moto) are settings, so the same
code talks to the real services in production. An unset endpoint means the real
service: each SDK then uses its own default (Hetzner's is spelled out: hcloud has no
name for it). Unset AWS keys leave boto3 to its default credential chain (IAM role,
profile, environment): an empty key passed to boto3 would override that chain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
import stripe
from hcloud import Client as HetznerClient

from tenantry.settings import CoreSettings

if TYPE_CHECKING:
    from mypy_boto3_route53 import Route53Client
    from mypy_boto3_s3 import S3Client

# hcloud's own default, which it does not export; a test checks they still agree.
HETZNER_API = "https://api.hetzner.cloud/v1"


def hetzner_client(settings: CoreSettings, *, poll_interval: float = 1.0) -> HetznerClient:
    return HetznerClient(
        token=settings.hetzner_token.get_secret_value(),
        api_endpoint=settings.hetzner_endpoint or HETZNER_API,
        application_name="tenantry",
        poll_interval=poll_interval,
        timeout=30,
    )


def _stripe_bases(settings: CoreSettings) -> dict[str, str] | None:
    if not settings.stripe_api_base:
        return None
    return {"api": settings.stripe_api_base, "meter_events": settings.stripe_api_base}


def stripe_client(settings: CoreSettings) -> stripe.StripeClient:
    return stripe.StripeClient(
        settings.stripe_api_key.get_secret_value(),
        base_addresses=_stripe_bases(settings),  # type: ignore[arg-type]
        max_network_retries=2,
    )


def stripe_meter_stream_client(settings: CoreSettings, token: str) -> stripe.StripeClient:
    """A client for the v2 meter event stream, authenticated by a meter event session."""
    return stripe.StripeClient(
        token,
        base_addresses=_stripe_bases(settings),  # type: ignore[arg-type]
        max_network_retries=2,
    )


def _aws_arguments(settings: CoreSettings, endpoint: str | None) -> dict[str, Any]:
    """boto3 arguments: only what is set, so that unset means AWS's own defaults."""
    arguments: dict[str, Any] = {"region_name": settings.aws_region}
    if endpoint:
        arguments["endpoint_url"] = endpoint
    if settings.aws_access_key_id is not None and settings.aws_secret_access_key is not None:
        arguments["aws_access_key_id"] = settings.aws_access_key_id.get_secret_value()
        arguments["aws_secret_access_key"] = settings.aws_secret_access_key.get_secret_value()
    return arguments


def route53_client(settings: CoreSettings) -> Route53Client:
    return boto3.client("route53", **_aws_arguments(settings, settings.route53_endpoint))


def s3_client(settings: CoreSettings) -> S3Client:
    return boto3.client("s3", **_aws_arguments(settings, settings.s3_endpoint))


def hosted_zone_id(settings: CoreSettings, route53: Route53Client) -> str:
    """The configured zone, or the one whose name is the base domain."""
    if settings.route53_hosted_zone_id:
        return settings.route53_hosted_zone_id.removeprefix("/hostedzone/")
    name = settings.base_domain.rstrip(".") + "."
    for zone in route53.list_hosted_zones_by_name(DNSName=name)["HostedZones"]:
        if zone["Name"] == name:
            return zone["Id"].removeprefix("/hostedzone/")
    raise LookupError(
        f"no Route53 hosted zone named {name}; create it or set TENANTRY_ROUTE53_HOSTED_ZONE_ID"
    )
