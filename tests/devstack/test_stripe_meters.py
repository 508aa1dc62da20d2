"""Billing meters and meter events: dedupe, timestamp bounds, summaries, the v2 stream."""

from __future__ import annotations

import datetime as dt

import pytest
import stripe

from tests.fixtures.stripe import StripeEmulator


def make_meter(client: stripe.StripeClient, event_name: str = "pod_hours") -> stripe.billing.Meter:
    return client.v1.billing.meters.create(
        params={
            "display_name": "Pod hours",
            "event_name": event_name,
            "default_aggregation": {"formula": "sum"},
        }
    )


def report(
    client: stripe.StripeClient,
    customer: str,
    value: int,
    ts: int,
    identifier: str | None = None,
    event_name: str = "pod_hours",
) -> stripe.billing.MeterEvent:
    params: dict[str, object] = {
        "event_name": event_name,
        "payload": {"stripe_customer_id": customer, "value": str(value)},
        "timestamp": ts,
    }
    if identifier:
        params["identifier"] = identifier
    return client.v1.billing.meter_events.create(params=params)  # type: ignore[arg-type]


def test_meter_crud(stripe_client: stripe.StripeClient) -> None:
    meter = make_meter(stripe_client)
    assert meter.status == "active"
    assert meter.customer_mapping.event_payload_key == "stripe_customer_id"
    with pytest.raises(stripe.InvalidRequestError) as err:
        make_meter(stripe_client)
    assert err.value.param == "event_name"
    off = stripe_client.v1.billing.meters.deactivate(meter.id)
    assert off.status == "inactive" and off.status_transitions.deactivated_at
    assert stripe_client.v1.billing.meters.retrieve(meter.id).status == "inactive"
    listed = stripe_client.v1.billing.meters.list(params={"status": "inactive"})
    assert [m.id for m in listed.data] == [meter.id]


def test_identifier_is_deduplicated_for_24_hours(
    stripe_env: StripeEmulator, stripe_client: stripe.StripeClient
) -> None:
    make_meter(stripe_client)
    customer = stripe_client.v1.customers.create()
    now = stripe_env.now()
    event = report(stripe_client, customer.id, 3, now, identifier="pod-1:2024-01-01T00")
    assert event.identifier == "pod-1:2024-01-01T00" and event.payload["value"] == "3"
    with pytest.raises(stripe.InvalidRequestError) as err:
        report(stripe_client, customer.id, 3, now, identifier="pod-1:2024-01-01T00")
    assert err.value.http_status == 400
    assert "An event already exists with identifier pod-1:2024-01-01T00" in str(
        err.value.user_message
    )
    assert err.value.headers is not None
    assert err.value.headers.get("Stripe-Should-Retry") == "false"
    stripe_env.advance(24 * 3600 + 60)
    report(stripe_client, customer.id, 1, stripe_env.now(), identifier="pod-1:2024-01-01T00")


def test_timestamp_bounds(stripe_env: StripeEmulator, stripe_client: stripe.StripeClient) -> None:
    make_meter(stripe_client)
    customer = stripe_client.v1.customers.create()
    now = stripe_env.now()
    with pytest.raises(stripe.InvalidRequestError) as err:
        report(stripe_client, customer.id, 1, now - 36 * 86400)
    assert err.value.code == "timestamp_too_far_in_past" and err.value.param == "timestamp"
    with pytest.raises(stripe.InvalidRequestError) as err:
        report(stripe_client, customer.id, 1, now + 6 * 60)
    assert err.value.code == "timestamp_in_future"
    report(stripe_client, customer.id, 1, now - 34 * 86400)
    report(stripe_client, customer.id, 1, now + 4 * 60)


def test_summaries_by_hour_and_total(
    stripe_env: StripeEmulator, stripe_client: stripe.StripeClient
) -> None:
    meter = make_meter(stripe_client)
    alice = stripe_client.v1.customers.create()
    bob = stripe_client.v1.customers.create()
    hour = (stripe_env.now() // 3600 - 3) * 3600
    report(stripe_client, alice.id, 2, hour + 10, "a1")
    report(stripe_client, alice.id, 3, hour + 3000, "a2")
    report(stripe_client, alice.id, 5, hour + 3600 + 1, "a3")
    report(stripe_client, bob.id, 100, hour + 20, "b1")
    summaries = stripe_client.v1.billing.meters.event_summaries.list(
        meter.id,
        params={
            "customer": alice.id,
            "start_time": hour,
            "end_time": hour + 3 * 3600,
            "value_grouping_window": "hour",
        },
    )
    by_start = {s.start_time: s.aggregated_value for s in summaries.data}
    assert by_start == {hour: 5, hour + 3600: 5, hour + 7200: 0}
    assert all(s.meter == meter.id and s.end_time - s.start_time == 3600 for s in summaries.data)
    total = stripe_client.v1.billing.meters.event_summaries.list(
        meter.id, params={"customer": alice.id, "start_time": hour, "end_time": hour + 7200}
    )
    assert [s.aggregated_value for s in total.data] == [10]
    with pytest.raises(stripe.InvalidRequestError) as err:
        stripe_client.v1.billing.meters.event_summaries.list(
            meter.id,
            params={
                "customer": alice.id,
                "start_time": hour + 60,
                "end_time": hour + 7200,
                "value_grouping_window": "hour",
            },
        )
    assert err.value.param == "start_time"


def test_v2_meter_event_stream(
    stripe_env: StripeEmulator, stripe_client: stripe.StripeClient
) -> None:
    meter = make_meter(stripe_client)
    customer = stripe_client.v1.customers.create()
    session = stripe_client.v2.billing.meter_event_session.create()
    assert session.authentication_token
    stream = stripe_env.client(key=session.authentication_token)
    hour = (stripe_env.now() // 3600 - 1) * 3600
    when = dt.datetime.fromtimestamp(hour + 5, dt.UTC).isoformat()
    events = [
        {
            "event_name": "pod_hours",
            "identifier": f"s{i}",
            "timestamp": when,
            "payload": {"stripe_customer_id": customer.id, "value": "1"},
        }
        for i in range(100)
    ]
    stream.v2.billing.meter_event_stream.create(params={"events": events})  # type: ignore[typeddict-item]
    # A replayed batch is dropped by identifier, as Stripe does asynchronously.
    stream.v2.billing.meter_event_stream.create(params={"events": events[:10]})  # type: ignore[typeddict-item]
    total = stripe_client.v1.billing.meters.event_summaries.list(
        meter.id, params={"customer": customer.id, "start_time": hour, "end_time": hour + 3600}
    )
    assert [s.aggregated_value for s in total.data] == [100]
    with pytest.raises(stripe.InvalidRequestError):
        stream.v2.billing.meter_event_stream.create(params={"events": events + events[:1]})  # type: ignore[typeddict-item]
    with pytest.raises(stripe.AuthenticationError):
        stripe_env.client(key="bogus_token_123").v2.billing.meter_event_stream.create(
            params={"events": events[:1]}  # type: ignore[typeddict-item]
        )
