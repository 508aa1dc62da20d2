"""Re-encrypt every secret column under the newest key, after a key was prepended.

Rotation order: prepend the new key to TENANTRY_ENCRYPTION_KEY everywhere, run
`reencrypt_all`, then drop the old key. Rows are rewritten token by token, without ever
holding the plaintext longer than one value, so it is safe to run on a live database.
"""

from __future__ import annotations

from sqlalchemy import Engine, Text, select, type_coerce, update

from db.models import Base
from db.types import EncryptedJSON, EncryptedText
from tenantry.crypto import Keyring, get_keyring


def reencrypt_all(engine: Engine, keyring: Keyring | None = None) -> int:
    """Rotate every value not yet under the newest key; returns how many changed."""
    keyring = keyring or get_keyring()
    changed = 0
    for table in Base.metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        for column in table.columns:
            if not isinstance(column.type, EncryptedJSON | EncryptedText):
                continue
            raw = type_coerce(column, Text)  # the token as stored, not decrypted
            with engine.begin() as conn:
                rows = conn.execute(select(*pk, raw).where(column.is_not(None))).all()
                for *key, token in rows:
                    if keyring.is_current(token):
                        continue
                    rotated = keyring.rotate(token)
                    where = [c == v for c, v in zip(pk, key, strict=True)]
                    conn.execute(
                        update(table)
                        .where(*where)
                        .values({column.name: type_coerce(rotated, Text)})
                    )
                    changed += 1
    return changed
