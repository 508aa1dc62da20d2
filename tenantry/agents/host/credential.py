"""This host's own credential: what the join token was exchanged for, kept on disk.

The join token is single use, so the credential the API answers at registration is the
only way this host can report again, across restarts: it is written to one file
(JSON ``{"host_id", "credential"}``), created with mode 0600 in a directory of mode 0700,
through a temporary file renamed over the old one so a crash never leaves half a file.
A file that is readable by others is refused, as it may have been copied already. The
credential never appears in a log line or an exception message.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path


class CredentialError(Exception):
    """The credential file exists but cannot be used (unreadable, malformed, too open)."""


@dataclass(frozen=True)
class HostCredential:
    host_id: str
    credential: str = field(repr=False)


def load_credential(path: Path) -> HostCredential | None:
    """The stored credential, or None when this host has not registered yet."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CredentialError(f"cannot read the host credential {path}: {exc}") from exc
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise CredentialError(
            f"the host credential {path} is readable by others "
            f"(mode {stat.S_IMODE(info.st_mode):04o}); chmod 600 it"
        )
    try:
        data = json.loads(path.read_text())
        return HostCredential(host_id=str(data["host_id"]), credential=str(data["credential"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CredentialError(f"the host credential {path} is not usable") from exc


def save_credential(path: Path, credential: HostCredential) -> None:
    """Writes the file with mode 0600 (never wider, even for a moment)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        body = {"host_id": credential.host_id, "credential": credential.credential}
        os.write(fd, json.dumps(body).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
