"""A local Stripe API emulator that the official ``stripe`` client cannot tell from Stripe.

Run it with ``python -m devstack.stripe --port 12111`` and point the client at it with
``stripe.StripeClient(key, base_addresses={"api": url, "meter_events": url})``. It serves
customers, products, prices, Checkout (with a hosted card page), subscriptions, invoices,
billing meters and meter events, webhook endpoints with signed, retried deliveries, and
test clocks; see ``routes/admin.py`` for the emulator-only admin routes.
"""
