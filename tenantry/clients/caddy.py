"""A small client for Caddy's admin API (JSON config), enough for pod routes.

Every write is idempotent by route ``@id``:

- `put_route` replaces the route with that id (``PATCH /id/<id>``) and only when Caddy
  answers that the id is unknown inserts it at the head of the server's routes
  (``PUT .../routes/0``), ahead of any catch-all route. A retried call therefore never
  adds a second route. (Caddy 2.6 itself accepts duplicate ids on insert, so
  `remove_routes` deletes every route with a matching id, not only the first.)
- `remove_routes` deletes every route whose id starts with a prefix; none is fine.

Errors: `CaddyUnavailable` (no answer, a 5xx: retry later) and `CaddyRejected` (Caddy
refused the request, or could not load the config it would make, which it answers with
500 "loading new config": retrying cannot help), both `CaddyError`s. httpx errors never
leave this module.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import httpx


class CaddyError(Exception):
    """Root of the errors talking to Caddy's admin API."""

    retryable = True


class CaddyUnavailable(CaddyError):
    """Caddy did not answer, or answered with a server error."""


class CaddyRejected(CaddyError):
    """Caddy refused the request (a 4xx other than an unknown id): a bug, not a blip."""

    retryable = False


Route = dict[str, Any]


class CaddyAdmin:
    """Caddy's admin API at ``admin_url``; pod routes live in the HTTP server ``server``."""

    def __init__(self, admin_url: str, server: str, *, timeout: float = 10.0) -> None:
        self.server = server
        # Caddy checks the Host of admin requests against its listen address (DNS
        # rebinding protection); httpx sends the URL's own, which matches.
        self._http = httpx.AsyncClient(base_url=admin_url.rstrip("/"), timeout=timeout)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def routes_path(self) -> str:
        return f"/config/apps/http/servers/{self.server}/routes"

    async def _request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        try:
            if body is None:
                response = await self._http.request(method, path)
            else:
                response = await self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise CaddyUnavailable(f"caddy admin {method} {path}: {exc!r}") from exc
        if response.status_code >= 500 and "loading new config" in response.text:
            # Caddy answers 500 for a config it cannot load: the same request fails again.
            raise CaddyRejected(f"caddy refused {method} {path}: {response.text[:300]}")
        if response.status_code >= 500:
            raise CaddyUnavailable(
                f"caddy admin {method} {path}: {response.status_code} {response.text[:300]}"
            )
        return response

    @staticmethod
    def _unknown_id(response: httpx.Response) -> bool:
        return response.status_code == 404 and "unknown object ID" in response.text

    async def routes(self) -> list[Route]:
        """The server's routes, in order (empty when the server has none yet)."""
        response = await self._request("GET", self.routes_path)
        if response.status_code == 404 or response.text.strip() in ("", "null"):
            return []
        if response.status_code != 200:
            raise CaddyRejected(f"caddy admin GET routes: {response.status_code} {response.text}")
        data = response.json()
        return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []

    async def put_route(self, route: Route) -> bool:
        """Sets the route with ``route["@id"]``; True when it was inserted, False replaced."""
        route_id = str(route["@id"])
        patched = await self._request("PATCH", f"/id/{route_id}", route)
        if patched.status_code == 200:
            return False
        if not self._unknown_id(patched):
            raise CaddyRejected(
                f"caddy admin PATCH /id/{route_id}: {patched.status_code} {patched.text[:300]}"
            )
        inserted = await self._request("PUT", f"{self.routes_path}/0", route)
        if inserted.status_code != 200:
            raise CaddyRejected(
                f"caddy admin PUT {self.routes_path}/0: {inserted.status_code} "
                f"{inserted.text[:300]}"
            )
        return True

    async def remove_route(self, route_id: str) -> int:
        """Deletes every route with this id; returns how many there were (0 is fine)."""
        removed = 0
        while True:
            response = await self._request("DELETE", f"/id/{route_id}")
            if self._unknown_id(response):
                return removed
            if response.status_code != 200:
                raise CaddyRejected(
                    f"caddy admin DELETE /id/{route_id}: {response.status_code} {response.text}"
                )
            removed += 1

    async def remove_routes(self, prefix: str) -> list[str]:
        """Deletes every route whose id starts with ``prefix``; returns their ids."""
        ids = sorted({str(r["@id"]) for r in await self.routes() if _id(r).startswith(prefix)})
        for route_id in ids:
            await self.remove_route(route_id)
        return ids


def _id(route: Route) -> str:
    value = route.get("@id")
    return value if isinstance(value, str) else ""


def route_hosts(route: Route) -> list[str]:
    """The hosts a route matches (its first matcher set's ``host`` list)."""
    hosts: list[str] = []
    for matcher in route.get("match") or []:
        if isinstance(matcher, dict):
            hosts.extend(str(h) for h in matcher.get("host") or [])
    return hosts
