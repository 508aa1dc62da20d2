"""Secrets at rest and bearer tokens.

Two jobs, both with vetted primitives only:

- Encrypting secrets we must read back (tenant and pod secrets) with Fernet (AES-128-CBC
  plus HMAC-SHA256, from `cryptography`). A `Keyring` holds the keys from
  `settings.encryption_keys`, newest first: new data uses the newest key, every key still
  decrypts, so a key rotates by prepending a new one and re-encrypting at leisure.
- Hashing bearer tokens we only need to recognise (API keys, signup status tokens, team
  invites). They are 256-bit random values, so a plain SHA-256 digest is as strong as a
  slow password hash; comparisons are constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

API_KEY_PREFIX = "tnt_"
API_KEY_LOOKUP_CHARS = 8  # random characters kept in clear after API_KEY_PREFIX


class CryptoError(Exception):
    """A secret could not be encrypted or decrypted: bad key configuration or bad data."""


class Keyring:
    """Fernet keys, newest first: encrypt with the newest, decrypt with any."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise CryptoError("no encryption key configured (TENANTRY_ENCRYPTION_KEY)")
        try:
            fernets = [Fernet(key) for key in keys]
        except (ValueError, TypeError) as exc:
            raise CryptoError(
                "TENANTRY_ENCRYPTION_KEY must hold Fernet keys (url-safe base64 of 32 bytes), "
                "comma-separated, newest first"
            ) from exc
        self._newest = fernets[0]
        self._fernet = MultiFernet(fernets)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError) as exc:
            raise CryptoError(
                "cannot decrypt: no configured key matches, or data is damaged"
            ) from exc

    def is_current(self, token: str) -> bool:
        """Whether `token` is already encrypted under the newest key."""
        try:
            self._newest.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeError):
            return False
        return True

    def rotate(self, token: str) -> str:
        """The same plaintext re-encrypted under the newest key."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError) as exc:
            raise CryptoError(
                "cannot rotate: no configured key matches, or data is damaged"
            ) from exc

    def encrypt_json(self, value: Any) -> str:
        return self.encrypt(json.dumps(value, separators=(",", ":"), sort_keys=True))

    def decrypt_json(self, token: str) -> Any:
        return json.loads(self.decrypt(token))


def generate_key() -> str:
    """A new Fernet key, for TENANTRY_ENCRYPTION_KEY."""
    return Fernet.generate_key().decode("ascii")


_override: Keyring | None = None


@lru_cache(maxsize=1)
def _keyring_from_settings() -> Keyring:
    from tenantry.settings import CoreSettings

    return Keyring(CoreSettings().encryption_keys)


def get_keyring() -> Keyring:
    """The process's keyring: the one set by `set_keyring`, else the one from settings."""
    return _override if _override is not None else _keyring_from_settings()


def set_keyring(keyring: Keyring | None) -> None:
    """Use `keyring` for this process (a process that already built settings; tests).

    `None` goes back to reading the keys from the settings.
    """
    global _override
    _override = keyring


# -- bearer tokens --------------------------------------------------------------------


def hash_secret(secret: str) -> str:
    """Hex SHA-256 of a high-entropy token; what we store instead of the token."""
    return hashlib.sha256(secret.encode()).hexdigest()


def verify_secret(secret: str, digest: str) -> bool:
    """Whether `secret` hashes to `digest`, in time independent of where they differ."""
    return hmac.compare_digest(hash_secret(secret), digest)


def new_token(nbytes: int = 32) -> str:
    """A random url-safe token (status tokens, invite tokens)."""
    return secrets.token_urlsafe(nbytes)


@dataclass(frozen=True)
class NewApiKey:
    """A freshly generated API key: `plaintext` is shown once and never stored."""

    plaintext: str
    prefix: str
    digest: str


def generate_api_key() -> NewApiKey:
    """`tnt_<8 chars>_<secret>`; the prefix (`tnt_<8 chars>`) identifies it in lists and logs."""
    lookup = secrets.token_hex(API_KEY_LOOKUP_CHARS // 2)
    plaintext = f"{API_KEY_PREFIX}{lookup}_{secrets.token_urlsafe(32)}"
    return NewApiKey(
        plaintext=plaintext, prefix=api_key_prefix(plaintext), digest=hash_secret(plaintext)
    )


def api_key_prefix(plaintext: str) -> str:
    """The clear part of an API key, as stored next to its digest."""
    return plaintext[: len(API_KEY_PREFIX) + API_KEY_LOOKUP_CHARS]
