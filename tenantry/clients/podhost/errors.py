"""What can go wrong on a pod host or in the snapshot store, as our own small error tree.

asyncssh, botocore and the ``docker`` CLI each fail in their own vocabulary; this is the
one place that translates them (``translate``), so the layers above (and the Temporal
retry policies, which match on ``type_name``) see only these types. ``retryable`` says
whether the same call can succeed later without anyone changing anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import asyncssh
from botocore.exceptions import BotoCoreError, ClientError


class PodHostError(Exception):
    """Root: an operation on a pod host or on a pod snapshot failed."""

    retryable = True

    @property
    def type_name(self) -> str:
        """The name a Temporal ``ApplicationError`` carries (retry policies match on it)."""
        return type(self).__name__


class HostUnreachable(PodHostError):
    """The host's sshd cannot be reached, or the connection dropped: retry later."""


class HostKeyMismatch(PodHostError):
    """The host presented a key we did not pin: maybe an impostor. Never retried blindly."""

    retryable = False


class HostAuthFailed(PodHostError):
    """The host refused our SSH key: its authorized_keys must be fixed first."""

    retryable = False


class RemoteCommandFailed(PodHostError):
    """A command on the host (``docker``, ``zstd``) failed for a reason we do not know."""


class ContainerNotFound(PodHostError):
    """The pod's container does not exist on that host."""

    retryable = False


class PodConflict(PodHostError):
    """Something on the host has the pod's name but is not what we made for that pod."""

    retryable = False


class RuntimeUnavailable(PodHostError):
    """The requested container runtime (e.g. ``runsc``) is not installed on the host."""

    retryable = False


class SnapshotNotFound(PodHostError):
    """The snapshot object is not in the bucket."""

    retryable = False


class SnapshotCorrupt(PodHostError):
    """The snapshot's bytes do not match the checksum recorded when it was taken."""

    retryable = False


class StorageUnavailable(PodHostError):
    """The object store failed or refused the request (throttling, 5xx, network)."""


_MISSING_CODES = {"404", "NoSuchKey", "NoSuchBucket", "NotFound", "NoSuchUpload"}


@contextmanager
def translate(where: str) -> Iterator[None]:
    """Re-raises SDK errors met inside the block as PodHostErrors naming ``where``."""
    try:
        yield
    except PodHostError:
        raise
    except asyncssh.HostKeyNotVerifiable as exc:
        raise HostKeyMismatch(f"{where}: host key not verifiable: {exc.reason}") from exc
    except asyncssh.PermissionDenied as exc:
        raise HostAuthFailed(f"{where}: SSH login refused: {exc.reason}") from exc
    except asyncssh.Error as exc:
        raise HostUnreachable(f"{where}: SSH failed: {exc}") from exc
    except OSError as exc:
        # Refused, reset, unroutable, timed out (TimeoutError is an OSError): host down.
        raise HostUnreachable(f"{where}: {exc or type(exc).__name__}") from exc
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        if code in _MISSING_CODES:
            raise SnapshotNotFound(f"{where}: {code}: {error.get('Message', '')}") from exc
        raise StorageUnavailable(f"{where}: {code}: {error.get('Message', '')}") from exc
    except BotoCoreError as exc:
        raise StorageUnavailable(f"{where}: {exc}") from exc
