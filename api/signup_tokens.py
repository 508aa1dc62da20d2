"""Status tokens for signups: derived from the signup id with a server-side key.

A repeated signup request joins the running signup and gets the same token again
without the token ever being stored; the database keeps only its hash.
"""

from __future__ import annotations

import hashlib
import hmac

from tenantry.crypto import hash_secret
from tenantry.settings import CoreSettings


def status_token(settings: CoreSettings, signup_id: str) -> str:
    key = hashlib.sha256(b"tenantry-signup-status:" + settings.encryption_keys[0].encode()).digest()
    return hmac.new(key, signup_id.encode(), hashlib.sha256).hexdigest()


def status_token_hash(settings: CoreSettings, signup_id: str) -> str:
    return hash_secret(status_token(settings, signup_id))
