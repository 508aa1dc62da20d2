"""Adapters to the systems we call: SDK factories, Caddy, SMTP, Temporal, pod hosts."""
