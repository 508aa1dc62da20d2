"""Our billing meters and metered prices at Stripe, found or created once.

Shared by metering (which reports to the meters) and account billing (whose subscription
items are the prices on them). Both are ours and never deleted, so each worker finds
them once; creates carry idempotency keys from their names, so two workers creating at
once make one of each.
"""

from __future__ import annotations

import stripe

from tenantry.rules.metering import meter_event_names
from tenantry.rules.plans import CURRENCY, metered_prices

CUSTOMER_PAYLOAD_KEY = "stripe_customer_id"
VALUE_PAYLOAD_KEY = "value"


def find_or_create_meters(client: stripe.StripeClient) -> dict[str, str]:
    """Meter id by event name: one sum meter per event name."""
    found = {
        m.event_name: m.id
        for m in client.v1.billing.meters.list(
            params={"status": "active", "limit": 100}
        ).auto_paging_iter()
    }
    for name in meter_event_names():
        if name in found:
            continue
        meter = client.v1.billing.meters.create(
            params={
                "display_name": name.replace("_", " "),
                "event_name": name,
                "default_aggregation": {"formula": "sum"},
                "customer_mapping": {"event_payload_key": CUSTOMER_PAYLOAD_KEY, "type": "by_id"},
                "value_settings": {"event_payload_key": VALUE_PAYLOAD_KEY},
            },
            options={"idempotency_key": f"tenantry-meter:{name}"},
        )
        found[name] = meter.id
    return {name: found[name] for name in meter_event_names()}


def find_or_create_metered_prices(client: stripe.StripeClient) -> dict[str, str]:
    """Price id by lookup key: each of `rules.plans.metered_prices()` on its meter."""
    meters = find_or_create_meters(client)
    wanted = metered_prices()
    found = {
        p.lookup_key: p.id
        for p in client.v1.prices.list(
            params={"lookup_keys": [w.lookup_key for w in wanted], "active": True, "limit": 100}
        ).auto_paging_iter()
        if p.lookup_key
    }
    for spec in wanted:
        if spec.lookup_key in found:
            continue
        price = client.v1.prices.create(
            params={
                "currency": CURRENCY,
                "unit_amount_decimal": str(spec.unit_cents),  # type: ignore[typeddict-item]
                "transform_quantity": {"divide_by": spec.divide_by, "round": "up"},
                "recurring": {
                    "interval": "month",
                    "usage_type": "metered",
                    "meter": meters[spec.meter_event_name],
                },
                "product_data": {
                    "name": spec.product_name,
                    "metadata": {"meter_event_name": spec.meter_event_name},
                },
                "lookup_key": spec.lookup_key,
            },
            options={"idempotency_key": f"tenantry-price:{spec.lookup_key}"},
        )
        found[spec.lookup_key] = price.id
    return {spec.lookup_key: found[spec.lookup_key] for spec in wanted}
