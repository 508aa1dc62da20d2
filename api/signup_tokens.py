"""Status tokens for signups: derived from the signup id with a server-side key.

A repeated signup request joins the running signup and gets the same token again
without the token ever being stored; the database keeps only its hash. The key is
`TENANTRY_STATUS_TOKEN_KEY`, not an encryption key: those rotate, and a token derived
from one would change with them (a repeated request would hand out a token that no
longer matches the stored hash). Tokens already handed out are checked against their
stored hash, so they keep working whatever key derived them.
"""

from __future__ import annotations

import hashlib
import hmac

from tenantry.crypto import hash_secret
from tenantry.settings import CoreSettings


def status_token(settings: CoreSettings, signup_id: str) -> str:
    secret = settings.status_token_key.get_secret_value().encode()
    key = hashlib.sha256(b"tenantry-signup-status:" + secret).digest()
    return hmac.new(key, signup_id.encode(), hashlib.sha256).hexdigest()


def status_token_hash(settings: CoreSettings, signup_id: str) -> str:
    return hash_secret(status_token(settings, signup_id))
