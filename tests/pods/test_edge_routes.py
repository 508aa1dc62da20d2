"""Pod routes in a real Caddy through its admin API: idempotent, by id, ahead of the catch-all.

Requests go to Caddy's edge port with the pod's Host header (no DNS); the upstreams are
small HTTP servers in this process that echo what they were asked.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from activities.edge import EDGE_REJECTED, EdgeActivities
from devstack.caddy import CaddyServer
from devstack.procs import free_port
from tenantry.clients.caddy import CaddyAdmin, CaddyRejected
from tenantry.contracts.pod import PodRoutes
from tenantry.rules.edge_names import pod_hostname, route_id
from tests.fixtures.caddy import start_caddy

DOMAIN = "pods.test"


class Echo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(
            {"server": self.server.name, "path": self.path, "host": self.headers["Host"]}  # type: ignore[attr-defined]
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def upstreams() -> Iterator[dict[str, str]]:
    """Three echo servers, by name: two containers and the waker."""
    servers = []
    addresses = {}
    for name in ("one", "two", "waker"):
        server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
        server.name = name  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        addresses[name] = f"127.0.0.1:{server.server_address[1]}"
    yield addresses
    for server in servers:
        server.shutdown()
        server.server_close()


def via_edge(caddy: CaddyServer, host: str, path: str = "/") -> httpx.Response:
    return httpx.get(f"{caddy.url}{path}", headers={"Host": host}, timeout=10)


async def routes_of(caddy: CaddyServer, pod_id: str) -> list[str]:
    async with CaddyAdmin(caddy.admin_url, "edge") as admin:
        return [str(r.get("@id")) for r in await admin.routes() if pod_id in str(r.get("@id"))]


async def test_routes_are_set_replaced_and_removed_by_id(
    caddy: CaddyServer, upstreams: dict[str, str]
) -> None:
    pod_id, account_id = str(uuid.uuid4()), str(uuid.uuid4())
    async with CaddyAdmin(caddy.admin_url, "edge") as admin:
        edge = EdgeActivities(admin, base_domain=DOMAIN, wake_upstream=upstreams["waker"])
        routes = PodRoutes(
            pod_id=pod_id,
            account_id=account_id,
            name="api-dev",
            targets={"http": upstreams["one"], "admin-ui": upstreams["two"]},
        )
        http_host = pod_hostname("http", "api-dev", account_id, DOMAIN)
        ui_host = pod_hostname("admin-ui", "api-dev", account_id, DOMAIN)
        assert sorted(await edge.edge_route_pod(routes)) == sorted([http_host, ui_host])

        # Each hostname reaches its own upstream; the port in Host does not matter.
        answer = via_edge(caddy, f"{http_host}:{caddy.port}", "/note.txt?x=1").json()
        assert answer == {
            "server": "one",
            "path": "/note.txt?x=1",
            "host": f"{http_host}:{caddy.port}",
        }
        assert via_edge(caddy, ui_host).json()["server"] == "two"
        # Anything else gets the catch-all, not a pod.
        stranger = via_edge(caddy, pod_hostname("http", "nope", account_id, DOMAIN))
        assert stranger.status_code == 404 and "No pod is served" in stranger.text

        # A retried activity never duplicates a route; a new target replaces the old one.
        await edge.edge_route_pod(routes)
        moved = routes.model_copy(update={"targets": {"http": upstreams["two"], "admin-ui": None}})
        await edge.edge_route_pod(moved)
        ids = await routes_of(caddy, pod_id)
        assert sorted(ids) == sorted([route_id(pod_id, "http"), route_id(pod_id, "admin-ui")])
        assert via_edge(caddy, http_host).json()["server"] == "two"

        # No target: the waker gets the request at its wake path, the Host kept.
        woken = via_edge(caddy, ui_host, "/some/page").json()
        assert woken == {"server": "waker", "path": "/v1/edge/wake", "host": ui_host}

        # Removing takes every route of the pod; removing again is fine.
        removed = await edge.edge_remove_pod_routes_if_present(pod_id)
        assert sorted(removed) == sorted(ids)
        assert await edge.edge_remove_pod_routes_if_present(pod_id) == []
        assert await routes_of(caddy, pod_id) == []
        assert via_edge(caddy, http_host).status_code == 404


async def test_duplicates_are_all_removed_and_errors_are_typed(caddy: CaddyServer) -> None:
    pod_id = str(uuid.uuid4())
    rid = route_id(pod_id, "http")
    route = {"@id": rid, "match": [{"host": ["dup.pods.test"]}], "handle": [], "terminal": True}
    async with CaddyAdmin(caddy.admin_url, "edge") as admin:
        # Caddy 2.6 accepts a duplicate id on insert (two racing inserts could make one).
        for _ in range(2):
            put = httpx.put(f"{caddy.admin_url}/config/apps/http/servers/edge/routes/0", json=route)
            assert put.status_code == 200, put.text
        assert await admin.remove_route(rid) == 2
        assert await admin.remove_route(rid) == 0

        # Caddy refusing the config (here: no such server) is not retried.
        with pytest.raises(CaddyRejected):
            await admin.put_route({**route, "handle": [{"handler": "no-such-handler"}]})
    async with CaddyAdmin(caddy.admin_url, "no-such-server") as elsewhere:
        edge = EdgeActivities(elsewhere, base_domain=DOMAIN, wake_upstream="127.0.0.1:1")
        bad = PodRoutes(pod_id=pod_id, account_id=str(uuid.uuid4()), name="x", targets={"h": None})
        with pytest.raises(ApplicationError) as refused:
            await edge.edge_route_pod(bad)
        assert refused.value.type == EDGE_REJECTED and refused.value.non_retryable
    assert await routes_of(caddy, pod_id) == []
    # An edge that does not answer is retried.
    async with CaddyAdmin(f"http://127.0.0.1:{free_port()}", "edge") as gone:
        edge = EdgeActivities(gone, base_domain=DOMAIN, wake_upstream="127.0.0.1:1")
        with pytest.raises(ApplicationError) as down:
            await edge.edge_remove_pod_routes_if_present(pod_id)
        assert not down.value.non_retryable


async def test_a_restarted_caddy_keeps_its_pod_routes(tmp_path: Path) -> None:
    """What a second `tenantry dev` relies on: pod routes survive, the rest is rebuilt."""
    server = start_caddy(tmp_path / "caddy")
    pod_id = str(uuid.uuid4())
    try:
        async with CaddyAdmin(server.admin_url, "edge") as admin:
            edge = EdgeActivities(admin, base_domain=DOMAIN, wake_upstream="127.0.0.1:1")
            routes = PodRoutes(
                pod_id=pod_id, account_id=str(uuid.uuid4()), name="p", targets={"w": None}
            )
            await edge.edge_route_pod(routes)
        server.stop()
        server.port, server.admin_port = free_port(), free_port()
        server.start()
        async with CaddyAdmin(server.admin_url, "edge") as admin:
            ids = [str(r.get("@id")) for r in await admin.routes()]
        assert ids == [route_id(pod_id, "w"), "edge-fallback"]
    finally:
        server.stop()
