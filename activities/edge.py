"""Edge activities: a pod's routes in Caddy, set and removed through its admin API.

One route per service, ``@id`` ``pod-{pod_id}-{service}``, matching the service's
hostname (`tenantry.rules.edge_names`). A running pod's route proxies to its container's published
port on the pod host; a pod that is not running is routed to the *waker*: the request,
its Host kept, is rewritten to the API's ``/v1/edge/wake``, which starts a restore and
answers with a "waking up" page. Both activities are idempotent by route id (see
`tenantry.clients.caddy`), so a retry never duplicates a route and removing a missing one is fine.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from tenantry.clients.caddy import CaddyAdmin, CaddyError, Route
from tenantry.contracts.pod import PodRoutes
from tenantry.rules.edge_names import pod_hostname, route_id, route_prefix

WAKE_PATH = "/v1/edge/wake"
EDGE_REJECTED = "EdgeRejected"


def container_route(rid: str, hostname: str, upstream: str) -> Route:
    """Proxies to the pod; a GET whose connection the pod dropped is tried again.

    Under gVisor (runsc, with the host's network stack in the pod's namespace) a forking
    server such as busybox httpd now and then closes an accepted connection without an
    answer; Caddy retries idempotent requests for ``try_duration``, so the user sees the
    page instead of a 502.
    """
    return {
        "@id": rid,
        "match": [{"host": [hostname]}],
        "handle": [
            {
                "handler": "reverse_proxy",
                "upstreams": [{"dial": upstream}],
                "load_balancing": {"try_duration": 2_000_000_000, "try_interval": 50_000_000},
            }
        ],
        "terminal": True,
    }


def waker_route(rid: str, hostname: str, wake_upstream: str) -> Route:
    """Any request for the hostname becomes a request for the wake endpoint.

    Caddy's reverse proxy passes the original Host on, which is how the API finds the
    pod; the browser keeps its own URL, so the page's refresh asks for it again.
    """
    return {
        "@id": rid,
        "match": [{"host": [hostname]}],
        "handle": [
            {"handler": "rewrite", "uri": WAKE_PATH},
            {"handler": "reverse_proxy", "upstreams": [{"dial": wake_upstream}]},
        ],
        "terminal": True,
    }


def _app_error(exc: CaddyError) -> ApplicationError:
    return ApplicationError(
        str(exc), type=None if exc.retryable else EDGE_REJECTED, non_retryable=not exc.retryable
    )


class EdgeActivities:
    def __init__(self, caddy: CaddyAdmin, *, base_domain: str, wake_upstream: str) -> None:
        self._caddy = caddy
        self._base_domain = base_domain
        self._wake_upstream = wake_upstream

    @activity.defn
    async def edge_route_pod(self, input: PodRoutes) -> list[str]:
        """Routes each service to its target (container or waker); returns the hostnames."""
        hostnames = []
        try:
            for service, upstream in sorted(input.targets.items()):
                hostname = pod_hostname(service, input.name, input.account_id, self._base_domain)
                rid = route_id(input.pod_id, service)
                route = (
                    container_route(rid, hostname, upstream)
                    if upstream
                    else waker_route(rid, hostname, self._wake_upstream)
                )
                await self._caddy.put_route(route)
                hostnames.append(hostname)
        except CaddyError as exc:
            raise _app_error(exc) from exc
        return hostnames

    @activity.defn
    async def edge_remove_pod_routes_if_present(self, pod_id: str) -> list[str]:
        """Removes every route of the pod (by id prefix); returns the ids removed."""
        try:
            return await self._caddy.remove_routes(route_prefix(pod_id))
        except CaddyError as exc:
            raise _app_error(exc) from exc
