"""Column types whose values are encrypted in the table and plain in Python.

Fernet tokens are random per write, so an encrypted column can be read and written but
never searched or compared in SQL; keep anything you look up by in a plain column. In-place
changes to an `EncryptedJSON` dict are not noticed: assign a new dict.
"""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import Dialect, LargeBinary, Text
from sqlalchemy.types import TypeDecorator

from tenantry.crypto import get_keyring


class EncryptedText(TypeDecorator[str]):
    """A string stored as a Fernet token (text) under the process keyring."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else get_keyring().encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else get_keyring().decrypt(value)


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON value stored as a Fernet token (text) under the process keyring."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else get_keyring().encrypt_json(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else get_keyring().decrypt_json(value)


class EncryptedBytes(TypeDecorator[bytes]):
    """Bytes stored as a Fernet token under the process keyring (for stored API answers,
    which may carry a key shown once)."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        return get_keyring().encrypt(base64.b64encode(value).decode()).encode()

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        return None if value is None else base64.b64decode(get_keyring().decrypt(value.decode()))
