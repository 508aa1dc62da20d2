"""Hetzner Cloud activities: tenant servers created once, by name, and deleted by name.

The server name is the idempotency key (names are unique per project): create looks the
name up first and adopts a server it finds, and a `uniqueness_error` on create (our own
earlier attempt landed, its answer was lost) is an adoption too. hcloud's own
`wait_until_finished` sleeps without heartbeating, so actions are polled here with a
heartbeat per poll, and the activity's heartbeat timeout notices a stuck worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from hcloud import APIException, Client
from hcloud.images import Image
from hcloud.locations import Location
from hcloud.server_types import ServerType
from hcloud.servers import BoundServer
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import from_hetzner
from tenantry.contracts.common import ErrorType
from tenantry.contracts.signup import ServerInfo, ServerRef, ServerSpec
from tenantry.contracts.tenant import ResizeInput

UserDataFor = Callable[[ServerSpec], str]
"""Renders a server's cloud-init; reads the tenant's secrets itself so they never enter
workflow history."""


class HetznerActivities:
    def __init__(
        self,
        client: Client,
        *,
        user_data_for: UserDataFor,
        location: str,
        image: str,
        poll_interval: float = 1.0,
    ) -> None:
        self._client = client
        self._user_data_for = user_data_for
        self._location = location
        self._image = image
        self._poll = poll_interval

    @activity.defn
    def create_server(self, spec: ServerSpec) -> ServerInfo:
        """Creates the tenant's server, or adopts the one an earlier attempt created."""
        existing = self._find(spec.name)
        if existing is not None:
            return self._adopt(existing, spec)
        try:
            created = self._client.servers.create(
                name=spec.name,
                server_type=ServerType(name=spec.server_type),
                image=Image(name=self._image),
                location=Location(name=self._location),
                user_data=self._user_data_for(spec),
                labels=spec.labels,
                start_after_create=True,
            )
        except APIException as exc:
            if exc.code == "uniqueness_error":
                found = self._find(spec.name)
                if found is not None:
                    return self._adopt(found, spec)
            raise from_hetzner(exc, f"create server {spec.name}") from exc
        self._wait_action(_id(created.action.id), f"create server {spec.name}")
        return self._running_info(_id(created.server.id), adopted=False)

    @activity.defn
    def delete_server_if_present(self, ref: ServerRef) -> bool:
        """Deletes the server with this name; absent is success (compensation is idempotent)."""
        server = self._find(ref.name)
        if server is None:
            return False
        try:
            action = self._client.servers.delete(server)
        except APIException as exc:
            if exc.code == "not_found":
                return False
            raise from_hetzner(exc, f"delete server {ref.name}") from exc
        self._wait_action(_id(action.id), f"delete server {ref.name}")
        return True

    @activity.defn
    def resize_server(self, inp: ResizeInput) -> ServerInfo:
        """Power off, change type (disk kept, so a downgrade stays possible), power on.

        Re-running it converges: a server already of the wanted type is only powered on.
        """
        server = self._find(inp.name)
        if server is None:
            raise ApplicationError(
                f"server {inp.name} not found", type=ErrorType.NOT_FOUND, non_retryable=True
            )
        self._finish_running_actions(server, inp.name)
        server = self._client.servers.get_by_id(_id(server.id))
        current = server.server_type.name if server.server_type else None
        if current != inp.server_type:
            try:
                if server.status != "off":
                    action = self._client.servers.power_off(server)
                    self._wait_action(_id(action.id), f"power off {inp.name}")
                action = self._client.servers.change_type(
                    server, ServerType(name=inp.server_type), upgrade_disk=False
                )
                self._wait_action(_id(action.id), f"change {inp.name} to {inp.server_type}")
            except APIException as exc:
                raise from_hetzner(exc, f"resize {inp.name}") from exc
        return self._running_info(_id(server.id), adopted=True)

    # -- helpers ----------------------------------------------------------------------
    def _finish_running_actions(self, server: BoundServer, name: str) -> None:
        for action in self._client.servers.get_actions(server, status=["running"]):
            self._wait_action(_id(action.id), f"finish pending action on {name}")

    def _find(self, name: str) -> BoundServer | None:
        try:
            return self._client.servers.get_by_name(name)
        except APIException as exc:
            raise from_hetzner(exc, f"look up server {name}") from exc

    def _adopt(self, server: BoundServer, spec: ServerSpec) -> ServerInfo:
        labels = server.labels or {}
        mismatched = {k: v for k, v in spec.labels.items() if labels.get(k) != v}
        if mismatched:
            raise ApplicationError(
                f"a server named {spec.name} exists but is not this tenant's "
                f"(labels differ: {sorted(mismatched)})",
                type=ErrorType.CONFLICT,
                non_retryable=True,
            )
        activity.logger.info("adopting existing server %s (id %s)", spec.name, server.id)
        self._finish_running_actions(server, spec.name)
        return self._running_info(_id(server.id), adopted=True)

    def _running_info(self, server_id: int, *, adopted: bool) -> ServerInfo:
        while True:
            server = self._client.servers.get_by_id(server_id)
            if server.status in ("running", "off", "stopping"):
                break
            activity.heartbeat(f"server {server_id} is {server.status}")
            time.sleep(self._poll)
        if server.status != "running":
            action = self._client.servers.power_on(server)
            self._wait_action(_id(action.id), f"power on server {server.name}")
        ipv4 = server.public_net.ipv4 if server.public_net else None
        if ipv4 is None or not ipv4.ip:
            raise ApplicationError(f"server {server.name} has no public IPv4", type="HetznerNoIp")
        return ServerInfo(
            server_id=server_id,
            name=str(server.name),
            ipv4=str(ipv4.ip),
            status="running",
            adopted=adopted,
        )

    def _wait_action(self, action_id: int, doing: str) -> None:
        while True:
            try:
                action = self._client.actions.get_by_id(action_id)
            except APIException as exc:
                raise from_hetzner(exc, doing) from exc
            activity.heartbeat(f"{doing}: {action.status} {action.progress}%")
            if action.status == "success":
                return
            if action.status == "error":
                code, why = (
                    (action.error["code"], action.error["message"]) if action.error else ("", "")
                )
                # A failed action leaves a broken resource; retrying would adopt it. It is
                # a failure for good: the saga deletes what exists and reports it.
                raise ApplicationError(
                    f"Hetzner action failed to {doing}: {code}: {why}",
                    type=ErrorType.PROVIDER_REJECTED,
                    non_retryable=True,
                )
            time.sleep(self._poll)


def _id(value: int | None) -> int:
    if value is None:
        raise ApplicationError("Hetzner answered without an id", type="HetznerBadResponse")
    return value
