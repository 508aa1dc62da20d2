"""The AWS resources `tenantry dev` relies on exist after `ensure_aws_resources`, once."""

from __future__ import annotations

from pathlib import Path

from devstack.moto import (
    ensure_aws_resources,
    export_state,
    import_state,
    reset,
    route53_client,
    s3_client,
)
from tests.fixtures.moto import AwsResources, MotoServer


def test_zone_and_bucket_are_created_once(aws: AwsResources) -> None:
    route53, s3 = aws.route53(), aws.s3()
    zones = route53.list_hosted_zones()["HostedZones"]
    assert [(z["Name"], z["Id"].removeprefix("/hostedzone/")) for z in zones] == [
        (aws.base_domain + ".", aws.hosted_zone_id)
    ]
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [aws.bucket]

    # Idempotent: a second (and third) call adopts what is there.
    assert ensure_aws_resources(aws.settings) == aws.hosted_zone_id
    assert ensure_aws_resources(aws.settings) == aws.hosted_zone_id
    assert len(route53.list_hosted_zones()["HostedZones"]) == 1
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [aws.bucket]


def test_zone_is_usable_and_bucket_keeps_objects(aws: AwsResources) -> None:
    route53, s3 = aws.route53(), aws.s3()
    name = f"app.{aws.base_domain}."
    route53.change_resource_record_sets(
        HostedZoneId=aws.hosted_zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": name,
                        "Type": "A",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "127.0.0.1"}],
                    },
                }
            ]
        },
    )
    records = route53.list_resource_record_sets(HostedZoneId=aws.hosted_zone_id)
    assert name in [r["Name"] for r in records["ResourceRecordSets"]]

    s3.put_object(Bucket=aws.bucket, Key="snapshots/p1.tar.zst", Body=b"data")
    assert s3.get_object(Bucket=aws.bucket, Key="snapshots/p1.tar.zst")["Body"].read() == b"data"
    # Ensuring again leaves the bucket's contents alone.
    ensure_aws_resources(aws.settings)
    assert s3.get_object(Bucket=aws.bucket, Key="snapshots/p1.tar.zst")["Body"].read() == b"data"


def test_reset_gives_each_test_a_fresh_account(aws: AwsResources) -> None:
    aws.s3().put_object(Bucket=aws.bucket, Key="leftover", Body=b"x")
    reset(aws.endpoint_url)
    assert aws.s3().list_buckets()["Buckets"] == []
    assert aws.route53().list_hosted_zones()["HostedZones"] == []


def test_other_domain_and_region(moto_server: MotoServer) -> None:
    reset(moto_server.url)
    settings = moto_server.settings(
        base_domain="pods.example.test", s3_bucket="eu-snapshots", aws_region="eu-central-1"
    )
    zone_id = ensure_aws_resources(settings)
    assert ensure_aws_resources(settings) == zone_id
    zone = route53_client(settings).get_hosted_zone(Id=zone_id)["HostedZone"]
    assert zone["Name"] == "pods.example.test."
    location = s3_client(settings).get_bucket_location(Bucket="eu-snapshots")
    assert location["LocationConstraint"] == "eu-central-1"


def test_state_saved_and_loaded_into_a_fresh_moto(aws: AwsResources, tmp_path: Path) -> None:
    """What `tenantry dev` does across restarts: objects and records survive, zone by name."""
    route53, s3 = aws.route53(), aws.s3()
    name = f"svc-pod1-acct1.{aws.base_domain}."
    route53.change_resource_record_sets(
        HostedZoneId=aws.hosted_zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": name,
                        "Type": "CNAME",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "edge.tenantry.test"}],
                    },
                }
            ]
        },
    )
    s3.put_object(
        Bucket=aws.bucket,
        Key="snapshots/pod1/1.tar.zst",
        Body=b"\x00snapshot" * 1000,
        ContentType="application/zstd",
        Metadata={"pod-id": "pod1"},
    )
    export_state(aws.settings, tmp_path / "aws")
    export_state(aws.settings, tmp_path / "aws")  # a second save replaces the first

    reset(aws.endpoint_url)
    assert import_state(aws.settings, tmp_path / "aws") == 2
    zone_id = ensure_aws_resources(aws.settings)
    records = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    restored = [r for r in records if r["Name"] == name]
    assert restored and restored[0]["ResourceRecords"] == [{"Value": "edge.tenantry.test"}]
    obj = s3.get_object(Bucket=aws.bucket, Key="snapshots/pod1/1.tar.zst")
    assert obj["Body"].read() == b"\x00snapshot" * 1000
    assert obj["ContentType"] == "application/zstd"
    assert obj["Metadata"] == {"pod-id": "pod1"}
    assert len(route53.list_hosted_zones()["HostedZones"]) == 1


def test_import_without_saved_state_does_nothing(aws: AwsResources, tmp_path: Path) -> None:
    assert import_state(aws.settings, tmp_path / "never-saved") == 0
