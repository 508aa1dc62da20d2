"""Input rules the API, the CLI and the workflows share.

Patterns are unanchored and used with `fullmatch`: `re.match` with `$` accepts a trailing
newline, so `"admin\n"` would pass the pattern and miss the reserved-name check.
"""

from __future__ import annotations

import re

SUBDOMAIN_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{1,61})[a-z0-9]")

RESERVED_SUBDOMAINS = frozenset(
    {
        "admin", "api", "app", "assets", "auth", "billing", "blog", "cdn", "dashboard",
        "dev", "docs", "ftp", "help", "imap", "internal", "localhost", "login", "mail",
        "metrics", "mx", "ns1", "ns2", "pop", "pop3", "root", "signup", "smtp", "staging",
        "static", "status", "support", "tenantry", "test", "webhook", "webhooks", "www",
    }
)  # fmt: skip


def subdomain_problem(value: str) -> str | None:
    """Why `value` cannot be a tenant subdomain, or None when it can."""
    if not 3 <= len(value) <= 63:
        return "must be 3 to 63 characters long"
    if not SUBDOMAIN_RE.fullmatch(value):
        return (
            "may contain only lowercase letters, digits and hyphens,"
            " and must not start or end with a hyphen"
        )
    if value[2:4] == "--":
        return "must not have hyphens in the third and fourth positions (reserved for IDNs)"
    if value in RESERVED_SUBDOMAINS:
        return f"'{value}' is reserved"
    return None
