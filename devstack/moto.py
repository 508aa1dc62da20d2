"""Route53 and S3 for the local stack: moto in server mode, plus the resources we expect.

The product talks to AWS only through boto3 with endpoint overrides from settings, so a
real moto server on loopback is the same code path as production. Moto keeps its state
in memory: `ensure_aws_resources` recreates the hosted zone and bucket on every start and
adopts them when they already exist, so it is safe to call any number of times.
"""

from __future__ import annotations

import json
import shutil
import sys
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from devstack.procs import ManagedProcess, http_ready

if TYPE_CHECKING:
    from mypy_boto3_route53 import Route53Client
    from mypy_boto3_s3 import S3Client

from tenantry.clients.sdk import route53_client, s3_client
from tenantry.settings import CoreSettings


def moto_process(
    *, host: str, port: int, log_path: Path, ready_timeout: float = 60.0
) -> ManagedProcess:
    """``moto_server`` on host:port, ready when its dashboard API answers."""
    return ManagedProcess(
        name="moto",
        argv=[sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)],
        log_path=log_path,
        ready=http_ready(f"http://{host}:{port}/moto-api/", accept=lambda s: s == 200),
        ready_timeout=ready_timeout,
    )


def reset(endpoint_url: str) -> None:
    """Forgets every resource moto holds (``POST /moto-api/reset``): a fresh account."""
    request = urllib.request.Request(
        endpoint_url.rstrip("/") + "/moto-api/reset", data=b"", method="POST"
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def ensure_hosted_zone(route53: Route53Client, domain: str) -> str:
    """The id (without ``/hostedzone/``) of the public zone for ``domain``, made if absent."""
    name = domain.rstrip(".") + "."
    listing = route53.list_hosted_zones_by_name(DNSName=name)
    for zone in listing["HostedZones"]:
        if zone["Name"] == name and not zone.get("Config", {}).get("PrivateZone", False):
            return zone["Id"].removeprefix("/hostedzone/")
    created = route53.create_hosted_zone(
        Name=name,
        # Business identity, not the attempt: a retried create cannot make a second zone.
        CallerReference=f"tenantry-dev-{name}",
        HostedZoneConfig={"Comment": "tenantry dev stack", "PrivateZone": False},
    )
    return created["HostedZone"]["Id"].removeprefix("/hostedzone/")


def ensure_bucket(s3: S3Client, bucket: str, region: str) -> None:
    """Creates ``bucket`` unless we already own it."""
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in {"404", "NoSuchBucket", "NotFound"}:
            raise
    try:
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(
                Bucket=bucket,
                CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
            )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
            raise


def ensure_aws_resources(settings: CoreSettings) -> str:
    """Makes the hosted zone for ``base_domain`` and the snapshot bucket exist.

    Returns the hosted zone id, which `tenantry dev` hands to the API and the worker as
    ``TENANTRY_ROUTE53_HOSTED_ZONE_ID``.
    """
    zone_id = ensure_hosted_zone(route53_client(settings), settings.base_domain)
    ensure_bucket(s3_client(settings), settings.s3_bucket, settings.aws_region)
    return zone_id


# --- keeping moto's state across `tenantry dev` runs ----------------------------------
# Moto holds everything in memory. So that a second `tenantry dev` finds the snapshots
# and DNS records the first one made, the stack saves buckets and zones to the state dir
# when it stops and loads them when it starts. Zone ids change (moto picks them); records
# are restored by name into the zone of the same name, which is how the product finds them.

_MANIFEST = "manifest.json"


def export_state(settings: CoreSettings, directory: Path) -> None:
    """Saves every bucket's objects and every zone's records under ``directory``.

    Written to a sibling first and swapped in, so an interrupted save keeps the last one.
    """
    s3, route53 = s3_client(settings), route53_client(settings)
    staging = directory.with_name(directory.name + ".saving")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "objects").mkdir(parents=True)
    buckets: list[dict[str, Any]] = []
    count = 0
    for bucket in s3.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        region = s3.get_bucket_location(Bucket=name).get("LocationConstraint") or "us-east-1"
        objects = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for item in page.get("Contents", []):
                count += 1
                file_name = f"{count:08d}"
                response = s3.get_object(Bucket=name, Key=item["Key"])
                with (staging / "objects" / file_name).open("wb") as f:
                    shutil.copyfileobj(response["Body"], f)
                objects.append(
                    {
                        "key": item["Key"],
                        "file": file_name,
                        "content_type": response.get("ContentType"),
                        "metadata": response.get("Metadata", {}),
                    }
                )
        buckets.append({"name": name, "region": region, "objects": objects})
    zones: list[dict[str, Any]] = []
    for zone in route53.list_hosted_zones().get("HostedZones", []):
        records = []
        for record_page in route53.get_paginator("list_resource_record_sets").paginate(
            HostedZoneId=zone["Id"]
        ):
            for record in record_page["ResourceRecordSets"]:
                # The zone's own SOA and NS come with the new zone.
                if record["Type"] in {"SOA", "NS"} and record["Name"] == zone["Name"]:
                    continue
                records.append(record)
        zones.append({"name": zone["Name"], "records": records})
    manifest = {"buckets": buckets, "zones": zones}
    (staging / _MANIFEST).write_text(json.dumps(manifest, indent=1, default=str))
    old = directory.with_name(directory.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if directory.exists():
        directory.rename(old)
    staging.rename(directory)
    shutil.rmtree(old, ignore_errors=True)


def import_state(settings: CoreSettings, directory: Path) -> int:
    """Loads what `export_state` saved into a fresh moto; returns how many items it put."""
    manifest_path = directory / _MANIFEST
    if not manifest_path.exists():
        return 0
    manifest = json.loads(manifest_path.read_text())
    s3, route53 = s3_client(settings), route53_client(settings)
    restored = 0
    for bucket in manifest.get("buckets", []):
        ensure_bucket(s3, bucket["name"], bucket.get("region") or settings.aws_region)
        for item in bucket["objects"]:
            extra: dict[str, Any] = {"Metadata": item.get("metadata") or {}}
            if item.get("content_type"):
                extra["ContentType"] = item["content_type"]
            with (directory / "objects" / item["file"]).open("rb") as body:
                s3.put_object(Bucket=bucket["name"], Key=item["key"], Body=body, **extra)
            restored += 1
    for zone in manifest.get("zones", []):
        zone_id = ensure_hosted_zone(route53, zone["name"])
        changes: list[Any] = [
            {"Action": "UPSERT", "ResourceRecordSet": record} for record in zone["records"]
        ]
        for start in range(0, len(changes), 500):
            route53.change_resource_record_sets(
                HostedZoneId=zone_id, ChangeBatch={"Changes": changes[start : start + 500]}
            )
        restored += len(changes)
    return restored
