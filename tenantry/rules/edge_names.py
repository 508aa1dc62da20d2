"""How pods are named at the edge: hostnames, public URLs and Caddy route ids.

A pod's service is served at ``{service}-{pod}-{account}.{pod_base_domain}``, one DNS
label before the base domain:

- ``{pod}`` is the pod's *name*, not its id: it is what the user chose, and it is unique
  among the account's live pods (a database index says so). A destroyed pod's name may
  be taken again; its routes are gone by then, so the hostname passes to the new pod.
- ``{account}`` is the account's *handle*: the first 12 hex digits of its UUID (48
  random bits; a UUID is too long for a label). It is stable (derived, never stored,
  so no migration), rarely shared (two accounts with one handle become likely only
  around 16 million accounts), and found back through the primary-key index as a range
  of ids (`handle_id_range`).
- ``{service}`` is the service's name from the pod config.

A DNS label holds at most 63 characters, so the API refuses (422, naming the field) a
pod whose name and service names make a longer label (`label_problem`). It also refuses
(409) a pod whose hostname another live pod already has: names may hold hyphens, so
service ``web-a`` of pod ``b`` and service ``web`` of pod ``a-b`` meet in one label, and
two accounts may share a handle. So one hostname always means one pod and service.

Routes in Caddy carry ``@id`` ``pod-{pod_id}-{service}`` (`route_id`), so that every
change is made by id and a pod's routes can be found by prefix.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable

MAX_LABEL = 63
HANDLE_LENGTH = 12
ROUTE_PREFIX = "pod-"
_HANDLE = re.compile(rf"[0-9a-f]{{{HANDLE_LENGTH}}}")
_UUID_LENGTH = 36


def account_handle(account_id: str | uuid.UUID) -> str:
    """The short, stable form of an account id used in pod hostnames."""
    return uuid.UUID(str(account_id)).hex[:HANDLE_LENGTH]


def handle_id_range(handle: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The smallest and largest account id with this handle (an index range scan)."""
    if not _HANDLE.fullmatch(handle):
        return None
    rest = 32 - HANDLE_LENGTH
    return uuid.UUID(handle + "0" * rest), uuid.UUID(handle + "f" * rest)


def host_label(service: str, pod_name: str, account_id: str | uuid.UUID) -> str:
    return f"{service}-{pod_name}-{account_handle(account_id)}"


def pod_hostname(service: str, pod_name: str, account_id: str | uuid.UUID, base_domain: str) -> str:
    return f"{host_label(service, pod_name, account_id)}.{base_domain}"


def pod_url(hostname: str, *, scheme: str, port: int) -> str:
    """The public URL of a hostname on the edge (the default port is left out)."""
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{hostname}" if port == default else f"{scheme}://{hostname}:{port}"


def label_problem(services: Iterable[str], pod_name: str) -> str | None:
    """Why the pod's hostnames cannot be DNS labels (too long), or None."""
    for service in services:
        label = f"{service}-{pod_name}-" + "0" * HANDLE_LENGTH
        if len(label) > MAX_LABEL:
            return (
                f"with service {service!r} the hostname label would be {len(label)} characters "
                f"({service}-{pod_name}-<account>); DNS allows {MAX_LABEL}: "
                "shorten the pod's or the service's name"
            )
    return None


def pod_labels(services: Iterable[str], pod_name: str) -> set[str]:
    """The account-local part of a pod's labels (``{service}-{pod}``), to find clashes."""
    return {f"{service}-{pod_name}" for service in services}


def split_hostname(host: str, base_domain: str) -> tuple[str, str] | None:
    """``(service-pod, handle)`` from a request's Host (port and case ignored), or None."""
    name = host.strip().lower().rstrip(".")
    if name.startswith("["):
        return None
    name = name.rsplit(":", 1)[0] if ":" in name else name
    suffix = "." + base_domain.lower().rstrip(".")
    if not name.endswith(suffix):
        return None
    label = name[: -len(suffix)]
    if "." in label or len(label) > MAX_LABEL:
        return None
    local, sep, handle = label.rpartition("-")
    if not sep or not local or not _HANDLE.fullmatch(handle):
        return None
    return local, handle


def route_id(pod_id: str, service: str) -> str:
    return f"{ROUTE_PREFIX}{pod_id}-{service}"


def route_prefix(pod_id: str) -> str:
    """Every route of the pod has an id starting so (a pod id has a fixed length)."""
    return f"{ROUTE_PREFIX}{pod_id}-"


def pod_of_route(route_id_: str) -> str | None:
    """The pod id in a route id made by `route_id`, or None for other routes."""
    if not route_id_.startswith(ROUTE_PREFIX):
        return None
    candidate = route_id_[len(ROUTE_PREFIX) : len(ROUTE_PREFIX) + _UUID_LENGTH]
    try:
        uuid.UUID(candidate)
    except ValueError:
        return None
    return candidate if route_id_[len(ROUTE_PREFIX) + _UUID_LENGTH :].startswith("-") else None
