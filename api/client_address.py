"""Which address a request comes from, for per-client limits, behind trusted proxies.

The peer's own address is the client unless the peer is a trusted proxy
(`TENANTRY_TRUSTED_PROXIES`); then the client is the rightmost `X-Forwarded-For` entry
that is not itself a trusted proxy. Entries left of that were written by the client and
prove nothing; an untrusted peer's `X-Forwarded-For` is ignored, so nobody picks their
own rate-limit bucket by sending the header.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.requests import Request

from tenantry.settings import IPNetwork

UNKNOWN = "unknown"


def _trusted(address: str, proxies: Sequence[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == net.version and ip in net for net in proxies)


def client_address(request: Request, proxies: Sequence[IPNetwork]) -> str:
    peer = request.client.host if request.client else UNKNOWN
    if not proxies or not _trusted(peer, proxies):
        return peer
    hops = [
        hop.strip()
        for header in request.headers.getlist("x-forwarded-for")
        for hop in header.split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return _normalized(hop)
    # Every hop is a proxy of ours (or there is no header): the nearest one is the client.
    return _normalized(hops[0]) if hops else peer


def _normalized(hop: str) -> str:
    """One spelling per address (`::FFFF:1.2.3.4` and `1.2.3.4` stay distinct, which is fine)."""
    try:
        return str(ipaddress.ip_address(hop))
    except ValueError:
        return hop[:64]  # not an address: a bucket of its own, bounded in size
