"""The metering core: what one closed UTC hour costs, computed from facts alone.

Pure functions, no I/O, so the rules can be tested exactly and the workflow's activities
stay thin. Every boundary is UTC and every amount of time is whole seconds (event times
are truncated to the second), so the free tier and the hour edges fall exactly.

- Runtime: a pod runs from a running event (`running`, which `PodWorkflow` records as it
  enters that status, or `started`, `restored`, `tier_changed`) until a stopping event
  (`hibernating`, `hibernated`, `destroying`, `destroyed`, `failed`, `stopped`); a tier
  change ends one tier's interval and starts the next, so it splits the hour between
  two prices.
- Snapshots: a ready snapshot is stored from `completed_at` until it is deleted
  (`deleted_at`); an hour bills its size times the seconds of the hour it was stored,
  as GB-seconds (GB = 10^9 bytes).
- Free tier: the first `FREE_POD_HOURS_PER_MONTH` pod-hours of each UTC calendar month
  per billed account (a team owner and members share one allowance). Hours are consumed
  in hour order; inside an hour, lines are ordered by when they first ran, then pod id,
  then tier. The allowance used before an hour is recomputed from pod events, so it does
  not depend on which hours were metered first.
- Team members' usage is billed to the owner (`billed_account_id`).

The Stripe meter value of a line is an integer (billable seconds, or GB-seconds), which
is what the local ledger and Stripe's meter summaries are compared on.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from tenantry.rules.plans import (
    FREE_POD_HOURS_PER_MONTH,
    POD_PLANS,
    SNAPSHOT_METER_EVENT,
    SNAPSHOT_USD_PER_GB_MONTH,
    PodTier,
)

HOUR = timedelta(hours=1)
FREE_SECONDS_PER_MONTH = FREE_POD_HOURS_PER_MONTH * 3600
GB = 10**9
MONEY_STEP = Decimal("0.000001")  # db.base.Money: micro-dollars
QUANTITY_STEP = Decimal("0.000001")

RUNNING_EVENT_KINDS = frozenset({"running", "started", "restored", "tier_changed"})
STOPPING_EVENT_KINDS = frozenset(
    {"hibernating", "hibernated", "destroying", "destroyed", "failed", "stopped"}
)
"""Pod event kinds metering understands; any other kind leaves the pod's state as it was."""

RUNTIME = "runtime"
SNAPSHOT = "snapshot"


def runtime_kind(tier: str) -> str:
    """A usage record kind: one per tier, so a tier change gives two records in an hour."""
    return f"{RUNTIME}:{tier}"


def meter_identifier(pod_id: uuid.UUID | str, hour: datetime, kind: str) -> str:
    """Stripe's meter event `identifier`: `{pod}:{hour}:{kind}`, the usage record's key."""
    return f"{pod_id}:{_hour_key(hour)}:{kind}"


@functools.lru_cache(maxsize=256)
def _hour_key(hour: datetime) -> str:
    # Cached: a page formats the same hour for thousands of records.
    return utc_hour(hour).strftime("%Y-%m-%dT%H")


@functools.lru_cache(maxsize=64)
def meter_event_name(kind: str) -> str:
    if kind == SNAPSHOT:
        return SNAPSHOT_METER_EVENT
    return POD_PLANS[PodTier(kind.removeprefix(RUNTIME + ":"))].meter_event_name


def meter_event_names() -> list[str]:
    return [plan.meter_event_name for plan in POD_PLANS.values()] + [SNAPSHOT_METER_EVENT]


# -- time ------------------------------------------------------------------------------
def utc_hour(when: datetime) -> datetime:
    """The start of the UTC hour `when` falls in (naive datetimes are taken as UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def month_start(when: datetime) -> datetime:
    return utc_hour(when).replace(day=1, hour=0)


def next_month(when: datetime) -> datetime:
    start = month_start(when)
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


def parse_month(text: str) -> datetime:
    """`YYYY-MM` to the first instant of that UTC month; ValueError if malformed."""
    parsed = datetime.strptime(text, "%Y-%m")
    return parsed.replace(tzinfo=UTC)


def _second(when: datetime) -> datetime:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).replace(microsecond=0)


def _overlap(a: datetime, b: datetime, start: datetime, end: datetime) -> int:
    lo, hi = max(a, start), min(b, end)
    return int((hi - lo).total_seconds()) if hi > lo else 0


# -- inputs ------------------------------------------------------------------------------
@dataclass(frozen=True)
class PodEventFact:
    kind: str
    tier: str
    at: datetime
    seq: int = 0  # the event's id: orders events with the same timestamp


@dataclass(frozen=True)
class PodFact:
    pod_id: uuid.UUID
    account_id: uuid.UUID
    billed_account_id: uuid.UUID
    events: tuple[PodEventFact, ...] = ()


@dataclass(frozen=True)
class SnapshotFact:
    pod_id: uuid.UUID
    size_bytes: int
    stored_from: datetime
    stored_until: datetime | None = None


@dataclass(frozen=True)
class Interval:
    tier: str
    start: datetime
    end: datetime


def running_intervals(events: Iterable[PodEventFact], until: datetime) -> list[Interval]:
    """Where a pod ran, by tier; a pod still running is cut at `until`."""
    intervals: list[Interval] = []
    current: tuple[str, datetime] | None = None
    for event in sorted(events, key=lambda e: (_second(e.at), e.seq)):
        at = _second(event.at)
        if event.kind in RUNNING_EVENT_KINDS:
            if current is not None:
                if current[0] == event.tier:
                    continue  # a repeated start changes nothing
                intervals.append(Interval(current[0], current[1], at))
            current = (event.tier, at)
        elif event.kind in STOPPING_EVENT_KINDS and current is not None:
            intervals.append(Interval(current[0], current[1], at))
            current = None
    if current is not None:
        intervals.append(Interval(current[0], current[1], max(current[1], until)))
    return [i for i in intervals if i.end > i.start]


def runtime_seconds(
    events: Iterable[PodEventFact], start: datetime, end: datetime
) -> dict[str, tuple[int, datetime]]:
    """Seconds run in `[start, end)` by tier, with when each tier first ran in it."""
    out: dict[str, tuple[int, datetime]] = {}
    for interval in running_intervals(events, end):
        seconds = _overlap(interval.start, interval.end, start, end)
        if seconds:
            first = max(interval.start, start)
            total, earliest = out.get(interval.tier, (0, first))
            out[interval.tier] = (total + seconds, min(earliest, first))
    return out


def snapshot_gb_seconds(snapshots: Iterable[SnapshotFact], hour: datetime) -> dict[uuid.UUID, int]:
    """GB-seconds stored per pod in the hour, rounded half up to whole GB-seconds."""
    start = utc_hour(hour)
    end = start + HOUR
    byte_seconds: dict[uuid.UUID, int] = {}
    for snap in snapshots:
        until = _second(snap.stored_until) if snap.stored_until else end
        seconds = _overlap(_second(snap.stored_from), until, start, end)
        if seconds and snap.size_bytes > 0:
            byte_seconds[snap.pod_id] = byte_seconds.get(snap.pod_id, 0) + snap.size_bytes * seconds
    return {pod: (value * 2 + GB) // (2 * GB) for pod, value in byte_seconds.items() if value}


# -- output ------------------------------------------------------------------------------
@dataclass(frozen=True)
class UsageLine:
    """One usage record to be: `meter_value` is what Stripe is told (billable units)."""

    pod_id: uuid.UUID
    hour: datetime
    kind: str
    tier: str
    account_id: uuid.UUID
    billed_account_id: uuid.UUID
    seconds: int  # runtime seconds, or GB-seconds for snapshots
    free_seconds: int
    meter_value: int
    quantity: Decimal  # hours, or GB-hours
    cost: Decimal  # USD

    @property
    def identifier(self) -> str:
        return meter_identifier(self.pod_id, self.hour, self.kind)

    @property
    def event_name(self) -> str:
        return meter_event_name(self.kind)


def _money(value: Decimal) -> Decimal:
    return value.quantize(MONEY_STEP, rounding=ROUND_HALF_UP)


def runtime_cost(tier: str, billable_seconds: int) -> Decimal:
    return _money(POD_PLANS[PodTier(tier)].hourly_usd * billable_seconds / 3600)


def snapshot_cost(gb_seconds: int, hour: datetime) -> Decimal:
    """GB-month price spread over the actual hours of the hour's UTC month."""
    month_seconds = int((next_month(hour) - month_start(hour)).total_seconds())
    return _money(SNAPSHOT_USD_PER_GB_MONTH * gb_seconds / month_seconds)


def free_seconds_used_before(pods: Iterable[PodFact], hour: datetime) -> int:
    """The free allowance the pods (of one billed account) used this month before `hour`."""
    start, end = month_start(hour), utc_hour(hour)
    used = 0
    for pod in pods:
        for seconds, _ in runtime_seconds(pod.events, start, end).values():
            used += seconds
    return min(used, FREE_SECONDS_PER_MONTH)


def meter_hour(
    hour: datetime, pods: Sequence[PodFact], snapshots: Sequence[SnapshotFact] = ()
) -> list[UsageLine]:
    """Every usage line of `hour` for these pods.

    `pods` must hold every pod of each billed account that appears (the free tier is
    shared by the team), each with its events from before the month began (the last one
    suffices) to the end of the hour.
    """
    start = utc_hour(hour)
    end = start + HOUR
    lines: list[UsageLine] = []
    by_billed: dict[uuid.UUID, list[PodFact]] = {}
    for pod in pods:
        by_billed.setdefault(pod.billed_account_id, []).append(pod)
    for billed in sorted(by_billed):
        team = by_billed[billed]
        remaining = FREE_SECONDS_PER_MONTH - free_seconds_used_before(team, start)
        runs: list[tuple[datetime, uuid.UUID, str, int, PodFact]] = []
        for pod in team:
            for tier, (seconds, first) in runtime_seconds(pod.events, start, end).items():
                runs.append((first, pod.pod_id, tier, seconds, pod))
        for _first, pod_id, tier, seconds, pod in sorted(runs, key=lambda r: r[:3]):
            free = min(remaining, seconds)
            remaining -= free
            billable = seconds - free
            lines.append(
                UsageLine(
                    pod_id=pod_id,
                    hour=start,
                    kind=runtime_kind(tier),
                    tier=tier,
                    account_id=pod.account_id,
                    billed_account_id=billed,
                    seconds=seconds,
                    free_seconds=free,
                    meter_value=billable,
                    quantity=(Decimal(seconds) / 3600).quantize(QUANTITY_STEP, ROUND_HALF_UP),
                    cost=runtime_cost(tier, billable),
                )
            )
    pods_by_id = {pod.pod_id: pod for pod in pods}
    for pod_id, gb_seconds in sorted(snapshot_gb_seconds(snapshots, start).items()):
        owner = pods_by_id.get(pod_id)
        if owner is None:
            continue
        latest_tier = next(
            (e.tier for e in sorted(owner.events, key=lambda e: (e.at, e.seq), reverse=True)),
            PodTier.SMALL.value,
        )
        lines.append(
            UsageLine(
                pod_id=pod_id,
                hour=start,
                kind=SNAPSHOT,
                tier=latest_tier,
                account_id=owner.account_id,
                billed_account_id=owner.billed_account_id,
                seconds=gb_seconds,
                free_seconds=0,
                meter_value=gb_seconds,
                quantity=(Decimal(gb_seconds) / 3600).quantize(QUANTITY_STEP, ROUND_HALF_UP),
                cost=snapshot_cost(gb_seconds, start),
            )
        )
    return lines
