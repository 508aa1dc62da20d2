"""Route53 activities: a tenant's A record, written with UPSERT and deleted only on a match.

UPSERT makes a retried write harmless; a delete removes the record only when its value
is still ours, so compensation never removes a record another signup has since written.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import botocore.exceptions
from temporalio import activity

from activities.errors import from_aws
from tenantry.contracts.signup import DnsRecord

if TYPE_CHECKING:
    from mypy_boto3_route53 import Route53Client
    from mypy_boto3_route53.type_defs import (
        ResourceRecordSetOutputTypeDef,
        ResourceRecordSetTypeDef,
    )


class DnsActivities:
    def __init__(self, route53: Route53Client, *, zone_id: str, poll_interval: float = 1.0) -> None:
        self._r53 = route53
        self._zone_id = zone_id
        self._poll = poll_interval

    @activity.defn
    def upsert_dns_record(self, record: DnsRecord) -> str:
        """Writes the A record and waits until Route53 reports it INSYNC; returns the change id."""
        try:
            change = self._r53.change_resource_record_sets(
                HostedZoneId=self._zone_id,
                ChangeBatch={
                    "Comment": f"tenantry: {record.fqdn}",
                    "Changes": [{"Action": "UPSERT", "ResourceRecordSet": _record_set(record)}],
                },
            )
            change_id = change["ChangeInfo"]["Id"]
            status = change["ChangeInfo"]["Status"]
            while status != "INSYNC":
                activity.heartbeat(status)
                time.sleep(self._poll)
                status = self._r53.get_change(Id=change_id)["ChangeInfo"]["Status"]
        except botocore.exceptions.ClientError as exc:
            raise from_aws(exc, f"write {record.fqdn}") from exc
        return change_id

    @activity.defn
    def delete_dns_record_if_present(self, record: DnsRecord) -> bool:
        """Deletes the A record if it still points where we wrote it."""
        try:
            current = self._find(record.fqdn)
            if current is None or _values(current) != [record.ipv4]:
                return False
            self._r53.change_resource_record_sets(
                HostedZoneId=self._zone_id,
                ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": current}]},
            )
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidChangeBatch":
                return False  # deleted meanwhile: the effect we wanted
            raise from_aws(exc, f"delete {record.fqdn}") from exc
        return True

    def _find(self, fqdn: str) -> ResourceRecordSetOutputTypeDef | None:
        name = _absolute(fqdn)
        page = self._r53.list_resource_record_sets(
            HostedZoneId=self._zone_id, StartRecordName=name, StartRecordType="A", MaxItems="1"
        )
        for rrset in page["ResourceRecordSets"]:
            if rrset["Name"] == name and rrset["Type"] == "A":
                return rrset
        return None


def _absolute(fqdn: str) -> str:
    return fqdn if fqdn.endswith(".") else fqdn + "."


def _values(rrset: ResourceRecordSetOutputTypeDef) -> list[str]:
    return [r["Value"] for r in rrset.get("ResourceRecords", [])]


def _record_set(record: DnsRecord) -> ResourceRecordSetTypeDef:
    return {
        "Name": _absolute(record.fqdn),
        "Type": "A",
        "TTL": record.ttl,
        "ResourceRecords": [{"Value": record.ipv4}],
    }
