"""The metering rules, exactly: hour edges, tier splits, the free tier, months, teams."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tenantry.rules.metering import (
    FREE_SECONDS_PER_MONTH,
    PodEventFact,
    PodFact,
    SnapshotFact,
    meter_hour,
    meter_identifier,
    month_start,
    next_month,
    runtime_seconds,
    snapshot_gb_seconds,
)

OWNER = uuid.UUID(int=1)
MEMBER = uuid.UUID(int=2)


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 3) -> datetime:
    return datetime(2025, month, day, hour, minute, second, tzinfo=UTC)


def pod(n: int, *events: tuple[str, str, datetime], account: uuid.UUID = OWNER) -> PodFact:
    return PodFact(
        pod_id=uuid.UUID(int=1000 + n),
        account_id=account,
        billed_account_id=OWNER,
        events=tuple(PodEventFact(k, t, a, i) for i, (k, t, a) in enumerate(events)),
    )


def paid_hours_used(n: int = 10) -> PodFact:
    """A pod that used the whole free tier on March 1 (so later hours bill in full)."""
    return pod(99, ("started", "dev.small", at(1, 0)), ("stopped", "dev.small", at(1, n)))


def test_a_run_across_an_hour_edge_bills_each_hour_its_share() -> None:
    p = pod(1, ("started", "dev.medium", at(5, 17, 20)), ("stopped", "dev.medium", at(5, 18, 40)))
    team = [paid_hours_used(), p]
    h17 = [line for line in meter_hour(at(5, 17), team) if line.pod_id == p.pod_id]
    h18 = [line for line in meter_hour(at(5, 18), team) if line.pod_id == p.pod_id]
    assert [(line.kind, line.seconds, line.meter_value) for line in h17] == [
        ("runtime:dev.medium", 2400, 2400)
    ]
    assert [(line.kind, line.seconds, line.meter_value) for line in h18] == [
        ("runtime:dev.medium", 2400, 2400)
    ]
    assert h17[0].cost == Decimal("0.011333")  # 40/60 * $0.017
    assert h17[0].quantity == Decimal("0.666667")
    assert all(line.pod_id != p.pod_id for line in meter_hour(at(5, 16), team))
    assert all(line.pod_id != p.pod_id for line in meter_hour(at(5, 19), team))


def test_a_tier_change_splits_the_hour_between_two_prices() -> None:
    p = pod(
        1,
        ("started", "dev.small", at(5, 16)),
        ("tier_changed", "dev.large", at(5, 17, 30)),
    )
    lines = [
        line for line in meter_hour(at(5, 17), [paid_hours_used(), p]) if line.pod_id == p.pod_id
    ]
    assert {(line.kind, line.seconds) for line in lines} == {
        ("runtime:dev.small", 1800),
        ("runtime:dev.large", 1800),
    }
    costs = {line.tier: line.cost for line in lines}
    assert costs == {"dev.small": Decimal("0.004000"), "dev.large": Decimal("0.016500")}
    assert len({line.identifier for line in lines}) == 2


def test_a_running_pod_bills_the_whole_hour_and_exact_edges_do_not_leak() -> None:
    p = pod(1, ("started", "dev.small", at(5, 17)), ("stopped", "dev.small", at(5, 18)))
    assert runtime_seconds(p.events, at(5, 17), at(5, 18)) == {"dev.small": (3600, at(5, 17))}
    assert runtime_seconds(p.events, at(5, 16), at(5, 17)) == {}
    assert runtime_seconds(p.events, at(5, 18), at(5, 19)) == {}
    still = pod(2, ("started", "dev.small", at(5, 10, 0, 0)))
    assert runtime_seconds(still.events, at(5, 17), at(5, 18)) == {"dev.small": (3600, at(5, 17))}
    # sub-second times are truncated, so nothing is ever a fraction of a second
    fine = pod(3, ("started", "dev.small", at(5, 17) + timedelta(microseconds=999_999)))
    assert runtime_seconds(fine.events, at(5, 17), at(5, 18)) == {"dev.small": (3600, at(5, 17))}


def test_hibernate_and_restore_inside_an_hour() -> None:
    p = pod(
        1,
        ("started", "dev.small", at(5, 17, 0)),
        ("hibernated", "dev.small", at(5, 17, 10)),
        ("restored", "dev.small", at(5, 17, 50)),
        ("destroyed", "dev.small", at(5, 17, 55)),
    )
    assert runtime_seconds(p.events, at(5, 17), at(5, 18)) == {"dev.small": (900, at(5, 17))}


def test_the_free_tier_boundary_falls_exactly() -> None:
    # 9 hours used on the 1st; on the 2nd a pod runs 17:00-19:00: one free hour, then paid.
    earlier = pod(1, ("started", "dev.small", at(1, 0)), ("stopped", "dev.small", at(1, 9)))
    p = pod(2, ("started", "dev.medium", at(2, 17)), ("stopped", "dev.medium", at(2, 19)))
    team = [earlier, p]
    (h17,) = meter_hour(at(2, 17), team)
    assert (h17.seconds, h17.free_seconds, h17.meter_value, h17.cost) == (3600, 3600, 0, 0)
    (h18,) = meter_hour(at(2, 18), team)
    assert (h18.seconds, h18.free_seconds, h18.meter_value) == (3600, 0, 3600)
    assert h18.cost == Decimal("0.017000")

    # the boundary inside an hour: 9h59m used, then an hour: 60 s free, 3540 s paid
    earlier = pod(1, ("started", "dev.small", at(1, 0)), ("stopped", "dev.small", at(1, 9, 59)))
    (line,) = meter_hour(at(2, 17), [earlier, p])
    assert (line.free_seconds, line.meter_value) == (60, 3540)


def test_the_free_tier_is_shared_by_a_team_in_a_deterministic_order() -> None:
    earlier = pod(1, ("started", "dev.small", at(1, 0)), ("stopped", "dev.small", at(1, 9, 30)))
    # two pods in hour 17: the member's started first, so it takes the last 30 free minutes
    owner_pod = pod(2, ("started", "dev.large", at(2, 17, 10)))
    member_pod = pod(3, ("started", "dev.small", at(2, 17, 5)), account=MEMBER)
    team = [earlier, owner_pod, member_pod]
    lines = {line.pod_id: line for line in meter_hour(at(2, 17), team)}
    assert lines[member_pod.pod_id].free_seconds == 1800
    assert lines[member_pod.pod_id].meter_value == 3300 - 1800
    assert lines[owner_pod.pod_id].free_seconds == 0
    assert lines[owner_pod.pod_id].meter_value == 3000
    assert {line.billed_account_id for line in lines.values()} == {OWNER}
    assert lines[member_pod.pod_id].account_id == MEMBER
    # the same facts in another order give the same lines
    assert meter_hour(at(2, 17), list(reversed(team))) == meter_hour(at(2, 17), team)


def test_months_are_utc_calendar_months() -> None:
    # Ran all of March 31 (more than the allowance); April 1 00:00 UTC starts afresh.
    p = pod(1, ("started", "dev.small", at(31, 0)))
    (last,) = meter_hour(at(31, 23), [p])
    assert last.free_seconds == 0 and last.meter_value == 3600
    april = [meter_hour(at(1, h, month=4), [p])[0] for h in range(11)]
    assert [line.free_seconds for line in april] == [3600] * 10 + [0]
    assert sum(line.free_seconds for line in april) == FREE_SECONDS_PER_MONTH
    assert month_start(at(1, 0, month=4) - timedelta(seconds=1)) == at(1, 0)
    assert next_month(datetime(2025, 12, 31, 23, tzinfo=UTC)) == datetime(2026, 1, 1, tzinfo=UTC)


def test_snapshot_gb_hours() -> None:
    p = pod(1, ("stopped", "dev.small", at(5, 0)))
    snap = SnapshotFact(p.pod_id, size_bytes=2 * 10**9, stored_from=at(5, 17, 30))
    assert snapshot_gb_seconds([snap], at(5, 17)) == {p.pod_id: 2 * 1800}
    assert snapshot_gb_seconds([snap], at(5, 18)) == {p.pod_id: 2 * 3600}
    assert snapshot_gb_seconds([snap], at(5, 16)) == {}
    (line,) = meter_hour(at(5, 18), [p], [snap])
    assert (line.kind, line.meter_value, line.quantity) == ("snapshot", 7200, Decimal("2"))
    # 2 GB for one hour of a 31-day month at $0.01 per GB-month
    assert line.cost == Decimal("0.000027")


def test_identifier_names_pod_hour_and_kind() -> None:
    pod_id = uuid.UUID(int=7)
    assert meter_identifier(pod_id, at(5, 17, 42), "runtime:dev.small") == (
        f"{pod_id}:2025-03-05T17:runtime:dev.small"
    )


def test_the_pod_workflows_own_event_kinds_bill_from_running_to_the_next_status() -> None:
    # What PodWorkflow records: the status a pod enters. Billed: running until hibernating,
    # and again from the restore's running until destroying.
    p = pod(
        1,
        ("creating", "dev.small", at(5, 16, 58)),
        ("running", "dev.small", at(5, 17, 0)),
        ("hibernating", "dev.small", at(5, 17, 10)),
        ("hibernated", "dev.small", at(5, 17, 11)),
        ("restoring", "dev.small", at(5, 17, 40)),
        ("running", "dev.small", at(5, 17, 41)),
        ("destroying", "dev.small", at(5, 17, 55)),
        ("destroyed", "dev.small", at(5, 17, 56)),
    )
    assert runtime_seconds(p.events, at(5, 17), at(5, 18)) == {"dev.small": (1440, at(5, 17))}
    assert runtime_seconds(p.events, at(5, 18), at(5, 19)) == {}


def test_a_deleted_snapshot_is_billed_until_its_deletion_only() -> None:
    snap = SnapshotFact(uuid.UUID(int=1001), 2 * 10**9, at(5, 16, 30), stored_until=at(5, 17, 15))
    assert snapshot_gb_seconds([snap], at(5, 17)) == {snap.pod_id: 2 * 900}
    assert snapshot_gb_seconds([snap], at(5, 18)) == {}
