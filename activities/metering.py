"""Metering activities: usage records from pod events, reported to Stripe exactly once.

Work goes in pages (billed accounts for computing, batches of records for reporting),
never an activity per pod, and each page heartbeats. Exactly-once rests on business keys:

- a usage record is `INSERT ... ON CONFLICT DO NOTHING` on (pod, hour, kind), so a re-run
  keeps the first value and an identifier is never sent with two different values;
- a credit deduction is inserted with the record, in the same transaction, under the
  unique reference `usage:{identifier}`;
- a meter event carries `identifier = {pod}:{hour}:{kind}`; Stripe drops a repeat (the v2
  stream silently, v1 with `resource_already_exists`), so a batch re-sent after a crash,
  a 429/500 or a lost answer is counted once. Records are marked reported afterwards.
  A record left unmarked longer than Stripe's 24-hour dedupe window would be counted
  twice if re-sent; reconciliation reports any such difference.

Stripe calls are synchronous (the official client), so these activities are sync and
run in the worker's thread pool.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import stripe
from sqlalchemy import (
    ColumnElement,
    Row,
    and_,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from activities.errors import from_stripe
from activities.stripe_catalog import (
    CUSTOMER_PAYLOAD_KEY,
    VALUE_PAYLOAD_KEY,
    find_or_create_meters,
)
from db.models import Account, CreditEntry, MeteringRun, Pod, PodEvent, Snapshot, UsageRecord
from db.repo.credits import depletion_episode, latest_balances
from db.sql import one_of, unnest_rows
from tenantry.contracts.credits import CreditsDepleted
from tenantry.contracts.metering import (
    HoursList,
    HoursToMeter,
    MeteredHour,
    MeterPageInput,
    MeterPageResult,
    ReportUsageInput,
    ReportUsageResult,
)
from tenantry.rules.billing import credit_covered, uncovered_meter_value
from tenantry.rules.metering import (
    HOUR,
    RUNNING_EVENT_KINDS,
    PodEventFact,
    PodFact,
    SnapshotFact,
    UsageLine,
    meter_event_names,
    meter_hour,
    month_start,
    utc_hour,
)

STREAM_BATCH = 100  # Stripe's v2 meter event stream takes at most 100 events a request
# Requests in flight at once: while Stripe takes one batch, the next is encoded and the
# acknowledged ones are marked. Few enough to stay far below the stream's rate limit.
SENDERS = 4
# Acknowledged records are marked reported in statements of this many (and at the end):
# a crash in between re-sends at most these and the requests in flight, which Stripe
# counts once by identifier.
MARK_EVERY = 1000
# What reporting reads of a usage record.
REPORTED_COLUMNS = (
    UsageRecord.id,
    UsageRecord.billed_account_id,
    UsageRecord.billed_customer_id,
    UsageRecord.event_name,
    UsageRecord.stripe_identifier,
    UsageRecord.meter_value,
)
ReportedRow = Row[int, uuid.UUID, str | None, str | None, str, int]


def _stored_during(start: datetime, end: datetime) -> ColumnElement[bool]:
    """Snapshots stored for some of `[start, end)`: ready by `end` and, if deleted since,
    deleted after `start`. A snapshot deleted before `deleted_at` was recorded has none
    and is not billed at all (as before the column existed)."""
    return and_(
        Snapshot.completed_at.is_not(None),
        Snapshot.completed_at < end,
        or_(
            Snapshot.status == "ready",
            and_(Snapshot.deleted_at.is_not(None), Snapshot.deleted_at > start),
        ),
    )


class MeteringActivities:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        client: stripe.StripeClient,
        *,
        stream_client: Callable[[str], stripe.StripeClient],
    ) -> None:
        """`stream_client(token)` gives a client for the v2 meter event stream session."""
        self._sessions = sessions
        self._stripe = client
        self._stream_client = stream_client
        self._meters: dict[str, str] = {}
        self._session: tuple[stripe.StripeClient, datetime] | None = None
        self._lock = threading.Lock()

    # -- which hours ----------------------------------------------------------------------
    @activity.defn
    def metering_hours(self, inp: HoursToMeter) -> HoursList:
        """The target hour and, when catching up, the unmetered hours before it."""
        target = utc_hour(inp.target)
        if not inp.catch_up:
            return HoursList(hours=[target])
        earliest = target - timedelta(hours=inp.catch_up_hours)
        with self._sessions() as session:
            last = session.scalar(
                select(func.max(MeteringRun.hour)).where(
                    MeteringRun.hour < target, MeteringRun.hour >= earliest
                )
            )
            if last is None:
                return HoursList(hours=[target])
            done = set(
                session.scalars(
                    select(MeteringRun.hour).where(
                        MeteringRun.hour > last, MeteringRun.hour <= target
                    )
                )
            )
        hours, hour = [], utc_hour(last) + HOUR
        while hour <= target:
            if hour not in done or hour == target:
                hours.append(hour)
            hour += HOUR
        return HoursList(hours=hours)

    @activity.defn
    def mark_hour_metered(self, inp: MeteredHour) -> None:
        statement = insert(MeteringRun).values(hour=utc_hour(inp.hour), records=inp.records)
        statement = statement.on_conflict_do_update(
            index_elements=[MeteringRun.hour],
            set_={"records": statement.excluded.records, "completed_at": func.now()},
        )
        with self._sessions() as session, session.begin():
            session.execute(statement)

    # -- Stripe meters ---------------------------------------------------------------------
    @activity.defn
    def ensure_meters(self) -> dict[str, str]:
        """One sum meter per event name, found or created (idempotency key per name).

        Found once per worker process: the meters are ours and never deleted, so an
        hour's run costs Stripe no request beyond its meter events.
        """
        with self._lock:
            known = dict(self._meters)
        if all(name in known for name in meter_event_names()):
            return {name: known[name] for name in meter_event_names()}
        try:
            found = find_or_create_meters(self._stripe)
        except stripe.StripeError as exc:
            raise from_stripe(exc, "ensure the billing meters") from exc
        with self._lock:
            self._meters = dict(found)
        return {name: found[name] for name in meter_event_names()}

    # -- computing --------------------------------------------------------------------------
    @activity.defn
    def meter_usage_page(self, inp: MeterPageInput) -> MeterPageResult:
        """Usage records for the next page of billed accounts active in the hour."""
        start = utc_hour(inp.hour)
        end = start + HOUR
        with self._sessions() as session, session.begin():
            # One more than the page: whether another page follows, without an empty
            # page (an activity and this query again) after the last full one.
            billed_ids = self._active_billed_accounts(session, start, end, inp)
            more = len(billed_ids) > inp.limit
            billed_ids = billed_ids[: inp.limit]
            if not billed_ids:
                return MeterPageResult()
            activity.heartbeat(str(billed_ids[-1]))
            pods, snapshots = self._facts(session, billed_ids, start, end)
            lines = meter_hour(start, pods, snapshots)
            customers: dict[uuid.UUID, str | None] = {
                account_id: customer
                for account_id, customer in session.execute(
                    select(Account.id, Account.stripe_customer_id).where(
                        one_of(Account.id, billed_ids)
                    )
                )
            }
            inserted = self._insert(session, lines, customers)
            self._deduct_credits(session, inserted)
            depleted = self._depleted(session, billed_ids, start)
        next_after = str(billed_ids[-1]) if more else None
        return MeterPageResult(
            lines=len(lines), inserted=len(inserted), next_after=next_after, depleted=depleted
        )

    def _active_billed_accounts(
        self, session: Session, start: datetime, end: datetime, inp: MeterPageInput
    ) -> list[uuid.UUID]:
        billed = func.coalesce(Account.team_owner_id, Account.id)
        last_kind = (
            select(PodEvent.kind)
            .where(PodEvent.pod_id == Pod.id, PodEvent.at < start)
            .order_by(PodEvent.at.desc(), PodEvent.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        in_hour = (
            select(PodEvent.id)
            .where(PodEvent.pod_id == Pod.id, PodEvent.at >= start, PodEvent.at < end)
            .exists()
        )
        stored = (
            select(Snapshot.id)
            .where(Snapshot.pod_id == Pod.id, _stored_during(start, end))
            .exists()
        )
        query = (
            select(billed)
            .select_from(Pod)
            .join(Account, Account.id == Pod.account_id)
            .where(or_(in_hour, last_kind.in_(sorted(RUNNING_EVENT_KINDS)), stored))
            .group_by(billed)
            .order_by(billed)
            .limit(inp.limit + 1)
        )
        if inp.after_billed_account:
            query = query.where(billed > uuid.UUID(inp.after_billed_account))
        return list(session.scalars(query))

    def _facts(
        self, session: Session, billed_ids: list[uuid.UUID], start: datetime, end: datetime
    ) -> tuple[list[PodFact], list[SnapshotFact]]:
        billed = func.coalesce(Account.team_owner_id, Account.id)
        rows = session.execute(
            select(Pod.id, Pod.account_id, billed)
            .join(Account, Account.id == Pod.account_id)
            .where(one_of(billed, billed_ids))
        ).all()
        pod_ids = [row[0] for row in rows]
        month = month_start(start)
        # The last event before the month (the state the month starts in), then the month's.
        before = (
            select(PodEvent.pod_id, PodEvent.kind, PodEvent.tier, PodEvent.at, PodEvent.id)
            .where(one_of(PodEvent.pod_id, pod_ids), PodEvent.at < month)
            .ext(distinct_on(PodEvent.pod_id))
            .order_by(PodEvent.pod_id, PodEvent.at.desc(), PodEvent.id.desc())
        )
        during = select(
            PodEvent.pod_id, PodEvent.kind, PodEvent.tier, PodEvent.at, PodEvent.id
        ).where(one_of(PodEvent.pod_id, pod_ids), PodEvent.at >= month, PodEvent.at < end)
        events: dict[uuid.UUID, list[PodEventFact]] = {}
        for query in (before, during):
            for pod_id, kind, tier, at, seq in session.execute(query):
                events.setdefault(pod_id, []).append(PodEventFact(kind, tier, at, seq))
        pods = [
            PodFact(pod_id, account_id, billed_id, tuple(events.get(pod_id, ())))
            for pod_id, account_id, billed_id in rows
        ]
        snapshots = [
            SnapshotFact(pod_id, size or 0, completed, deleted)
            for pod_id, size, completed, deleted in session.execute(
                select(
                    Snapshot.pod_id, Snapshot.size_bytes, Snapshot.completed_at, Snapshot.deleted_at
                ).where(one_of(Snapshot.pod_id, pod_ids), _stored_during(start, end))
            )
            if completed is not None
        ]
        return pods, snapshots

    def _insert(
        self, session: Session, lines: list[UsageLine], customers: dict[uuid.UUID, str | None]
    ) -> list[UsageLine]:
        if not lines:
            return []
        identifiers = [line.identifier for line in lines]
        columns: dict[str, list[Any]] = {
            "pod_id": [line.pod_id for line in lines],
            "hour": [line.hour for line in lines],
            "kind": [line.kind for line in lines],
            "tier": [line.tier for line in lines],
            "account_id": [line.account_id for line in lines],
            "billed_account_id": [line.billed_account_id for line in lines],
            "billed_customer_id": [customers.get(line.billed_account_id) for line in lines],
            "quantity": [line.quantity for line in lines],
            "cost": [line.cost for line in lines],
            "seconds": [line.seconds for line in lines],
            "free_seconds": [line.free_seconds for line in lines],
            "meter_value": [line.meter_value for line in lines],
            "event_name": [line.event_name for line in lines],
            "stripe_identifier": identifiers,
        }
        statement = (
            insert(UsageRecord)
            .from_select(list(columns), unnest_rows(UsageRecord.__table__, columns))
            .on_conflict_do_nothing(
                index_elements=[UsageRecord.pod_id, UsageRecord.hour, UsageRecord.kind]
            )
            .returning(UsageRecord.stripe_identifier)
        )
        new = set(session.scalars(statement))
        return [line for line, i in zip(lines, identifiers, strict=True) if i in new]

    def _deduct_credits(self, session: Session, inserted: list[UsageLine]) -> None:
        """Prepaid accounts (any ledger entry) pay new usage from credits, once per record.

        What the ledger pays is not sent to Stripe (the record's `meter_value` is what is
        invoiced). An account with a card draws credits down to zero and no further; the
        rest is invoiced: `meter_value` becomes the seconds the uncovered cost is worth,
        rounded up (`tenantry.rules.billing`). An account without a card owes all of it
        to the ledger (the balance goes below zero and the credits workflow runs its grace
        period) and nothing is invoiced, so a top-up settles it and a card added later
        never bills it a second time.
        """
        costs: dict[uuid.UUID, list[UsageLine]] = {}
        for line in inserted:
            if line.cost > 0:
                costs.setdefault(line.billed_account_id, []).append(line)
        if not costs:
            return
        prepaid = set(
            session.scalars(
                select(CreditEntry.account_id)
                .where(one_of(CreditEntry.account_id, list(costs)))
                .distinct()
            )
        )
        if not prepaid:
            return
        # Serialises deductions per account so `balance_after` is a true running total;
        # locked in id order, as every page does, so two pages never deadlock.
        with_card = {
            account_id
            for account_id, subscription in session.execute(
                select(Account.id, Account.billing_subscription_id)
                .where(one_of(Account.id, sorted(prepaid)))
                .order_by(Account.id)
                .with_for_update()
            )
            if subscription
        }
        balances = {
            account_id: balance for account_id, balance in session.execute(latest_balances(prepaid))
        }
        entries: dict[str, list[Any]] = {
            "account_id": [],
            "delta": [],
            "reason": [],
            "balance_after": [],
            "reference": [],
        }
        invoiced: dict[str, list[Any]] = {"stripe_identifier": [], "meter_value": []}
        for account_id in sorted(prepaid):
            balance = balances.get(account_id) or Decimal(0)
            for line in costs[account_id]:
                covered = credit_covered(balance, line.cost)
                if account_id in with_card:
                    drawn = covered
                    value = uncovered_meter_value(line.meter_value, line.cost, covered)
                else:
                    drawn, value = line.cost, 0  # all of it is owed to the ledger
                if value != line.meter_value:
                    invoiced["stripe_identifier"].append(line.identifier)
                    invoiced["meter_value"].append(value)
                if not drawn:
                    continue
                balance -= drawn
                entries["account_id"].append(account_id)
                entries["delta"].append(-drawn)
                entries["reason"].append(f"usage {line.kind} {line.hour:%Y-%m-%dT%H}")
                entries["balance_after"].append(balance)
                entries["reference"].append(f"usage:{line.identifier}")
        if entries["account_id"]:
            # One statement for the page; ids follow the lists, so the latest entry of an
            # account is its running balance.
            session.execute(
                insert(CreditEntry)
                .from_select(list(entries), unnest_rows(CreditEntry.__table__, entries))
                .on_conflict_do_nothing(index_elements=[CreditEntry.reference])
            )
        if invoiced["stripe_identifier"]:
            # One statement: what credits cover is not sent to Stripe.
            rows = unnest_rows(UsageRecord.__table__, invoiced).subquery()
            session.execute(
                update(UsageRecord)
                .where(UsageRecord.stripe_identifier == rows.c.stripe_identifier)
                .values(meter_value=rows.c.meter_value)
            )

    def _depleted(
        self, session: Session, billed_ids: list[uuid.UUID], hour: datetime
    ) -> list[CreditsDepleted]:
        """Prepaid accounts of the page at or below zero, each with its depletion's episode.

        Read from the ledger, not from this attempt's deductions, so a retried page (whose
        records are already in) answers the same.
        """
        found = []
        with_card = set(
            session.scalars(
                select(Account.id).where(
                    one_of(Account.id, billed_ids), Account.billing_subscription_id.is_not(None)
                )
            )
        )
        for account_id, balance in session.execute(latest_balances(billed_ids)):
            if balance > 0 or account_id in with_card:  # a card pays what credits do not
                continue
            episode = session.scalar(depletion_episode(account_id))
            if episode is not None:
                found.append(
                    CreditsDepleted(
                        account_id=str(account_id), episode=episode, balance=balance, hour=hour
                    )
                )
        return found

    # -- reporting ---------------------------------------------------------------------------
    @activity.defn
    def report_usage(self, inp: ReportUsageInput) -> ReportUsageResult:
        """Sends up to `limit` unreported records of the hour, 100 a request, and marks them.

        Records with nothing to bill (within the free tier) are marked without being sent.
        With `full_batches_only`, a last partial request is left for a later call.
        """
        hour = utc_hour(inp.hour)
        # Stamped inside the hour it measures, so Stripe's hourly summaries line up.
        stamp = (hour + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        with self._sessions() as session:
            # Plain rows, not ORM objects: only read, and thousands of them.
            rows = session.execute(
                select(*REPORTED_COLUMNS)
                .where(UsageRecord.hour == hour, UsageRecord.reported_at.is_(None))
                .order_by(UsageRecord.id)
                .limit(inp.limit + 1)
            ).all()
            remaining = len(rows) > inp.limit
            rows = rows[: inp.limit]
            billable = [r for r in rows if r.meter_value > 0]
            nothing_to_send = [r.id for r in rows if r.meter_value <= 0]
            if inp.full_batches_only and len(billable) % STREAM_BATCH:
                billable = billable[: len(billable) - len(billable) % STREAM_BATCH]
                remaining = True
            customers = self._ensure_customers(session, billable)
            if nothing_to_send:
                self._mark_reported(session, nothing_to_send)
            batches = [
                billable[i : i + STREAM_BATCH] for i in range(0, len(billable), STREAM_BATCH)
            ]
            reported = len(nothing_to_send) + self._send_and_mark(
                session, batches, stamp, customers
            )
        return ReportUsageResult(reported=reported, remaining=remaining)

    def _send_and_mark(
        self,
        session: Session,
        batches: Sequence[Sequence[ReportedRow]],
        stamp: str,
        customers: dict[uuid.UUID, str | None],
    ) -> int:
        """Sends the batches, up to SENDERS at once, and marks each once Stripe took it."""
        reported = 0
        acknowledged: list[int] = []
        in_flight: deque[tuple[Future[None], Sequence[ReportedRow]]] = deque()
        # A sync activity's heartbeat waits for the worker's event loop: once a second is
        # plenty for a 30 s heartbeat timeout and costs nothing per batch.
        next_heartbeat = 0.0

        def settle_oldest() -> None:
            nonlocal reported, acknowledged, next_heartbeat
            sending, batch = in_flight.popleft()
            sending.result()  # a failed request raises here: the activity retries
            acknowledged.extend(r.id for r in batch)
            reported += len(batch)
            if time.monotonic() >= next_heartbeat:
                activity.heartbeat(reported)
                next_heartbeat = time.monotonic() + 1.0
            if len(acknowledged) >= MARK_EVERY:
                self._mark_reported(session, acknowledged)
                acknowledged = []

        with ThreadPoolExecutor(SENDERS, thread_name_prefix="meter-events") as senders:
            try:
                for batch in batches:
                    events = [
                        self._event(
                            r, stamp, r.billed_customer_id or customers.get(r.billed_account_id)
                        )
                        for r in batch
                    ]
                    in_flight.append((senders.submit(self._send, events), batch))
                    if len(in_flight) >= SENDERS:
                        settle_oldest()
                while in_flight:
                    settle_oldest()
            finally:
                # What Stripe took is marked even when a later batch failed; the rest is
                # sent again by the retry and counted once by its identifier.
                if acknowledged:
                    self._mark_reported(session, acknowledged)
        return reported

    @staticmethod
    def _mark_reported(session: Session, ids: list[int]) -> None:
        # By primary key alone, keeping a time already set (by a run beside this one): a
        # `reported_at IS NULL` condition lets the planner scan the whole partial index of
        # unreported records instead.
        session.execute(
            update(UsageRecord)
            .where(one_of(UsageRecord.id, ids))
            .values(reported_at=func.coalesce(UsageRecord.reported_at, func.now()))
            .execution_options(synchronize_session=False)
        )
        session.commit()

    def _ensure_customers(
        self, session: Session, rows: Sequence[ReportedRow]
    ) -> dict[uuid.UUID, str | None]:
        """Every billed account gets its Stripe customer (created once, keyed by account);
        returns the customers of the accounts whose rows had none yet."""
        found: dict[uuid.UUID, str | None] = {}
        missing = {r.billed_account_id for r in rows if not r.billed_customer_id}
        for account_id in sorted(missing):
            account = session.get(Account, account_id, with_for_update=True)
            if account is None:
                continue
            if not account.stripe_customer_id:
                try:
                    customer = self._stripe.v1.customers.create(
                        params={
                            "email": account.email,
                            "metadata": {"account_id": str(account_id)},
                        },
                        options={"idempotency_key": f"account-customer:{account_id}"},
                    )
                except stripe.StripeError as exc:
                    raise from_stripe(exc, "create the account's customer") from exc
                account.stripe_customer_id = customer.id
            session.execute(
                update(UsageRecord)
                .where(
                    UsageRecord.billed_account_id == account_id,
                    UsageRecord.billed_customer_id.is_(None),
                )
                .values(billed_customer_id=account.stripe_customer_id)
            )
            session.commit()
            found[account_id] = account.stripe_customer_id
        return found

    @staticmethod
    def _event(row: ReportedRow, stamp: str, customer: str | None) -> dict[str, Any]:
        return {
            "event_name": row.event_name,
            "identifier": row.stripe_identifier,
            "timestamp": stamp,
            "payload": {CUSTOMER_PAYLOAD_KEY: customer, VALUE_PAYLOAD_KEY: str(row.meter_value)},
        }

    def _stream(self, *, renew: bool = False) -> stripe.StripeClient:
        with self._lock:
            now = datetime.now(UTC)
            if renew or self._session is None or self._session[1] <= now:
                session = self._stripe.v2.billing.meter_event_session.create()
                expires = datetime.fromisoformat(str(session.expires_at).replace("Z", "+00:00"))
                self._session = (
                    self._stream_client(session.authentication_token),
                    expires - timedelta(minutes=1),
                )
            return self._session[0]

    def _send(self, events: list[dict[str, Any]]) -> None:
        try:
            try:
                self._stream().v2.billing.meter_event_stream.create(params={"events": events})  # type: ignore[typeddict-item]
            except stripe.AuthenticationError:
                # The session expired early (or was revoked): one new session, one retry.
                self._stream(renew=True).v2.billing.meter_event_stream.create(
                    params={"events": events}  # type: ignore[typeddict-item]
                )
        except stripe.StripeError as exc:
            raise from_stripe(exc, "report meter events") from exc
