"""The emulator's state and the operations the HTTP handlers call.

Handlers parse and validate; this module decides what happens to servers, machines and
actions, in one place, so the API, the admin view and persistence agree.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import string
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from devstack.hetzner import catalog
from devstack.hetzner.actions import Action, ActionRunner
from devstack.hetzner.config import EmulatorConfig, ServerLatency
from devstack.hetzner.errors import HetznerError, invalid_input, not_found
from devstack.hetzner.ippool import AddressPool
from devstack.hetzner.machine import Machine
from devstack.hetzner.models import Server, SshKey
from devstack.hetzner.ratelimit import RateLimiter
from devstack.hetzner.serverfs import PULL_FAULTS

log = logging.getLogger(__name__)


def _root_password() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(20))


class Emulator:
    """All servers, SSH keys and actions of one emulated Hetzner project."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.defaults = config
        self.config = replace(config)
        self.pool = AddressPool(config.network, config.first_address)
        self.runner = ActionRunner(config.action_duration)
        self.limiter = RateLimiter(config.rate_limit)
        self.servers: dict[int, Server] = {}
        self.machines: dict[int, Machine] = {}
        self.ssh_keys: dict[int, SshKey] = {}
        self.next_server_id = 1
        self.next_ssh_key_id = 1
        self.on_change: list[Callable[[], None]] = []

    # -- settings ---------------------------------------------------------------------

    def set_config(self, *, boot_delay: float | None = None, action_duration: float | None = None,
                   rate_limit: int | None = None,
                   server_latency: dict[str, ServerLatency] | None = None) -> None:  # fmt: skip
        if server_latency is not None:
            self.config.server_latency = dict(server_latency)
        if boot_delay is not None:
            self.config.boot_delay = boot_delay
        if action_duration is not None:
            self.config.action_duration = action_duration
            self.runner.duration = action_duration
        if rate_limit is not None:
            self.config.rate_limit = rate_limit
            self.limiter.set_limit(rate_limit)

    def set_failing_pulls(self, failures: dict[str, int]) -> None:
        """The next ``failures[tag]`` pulls of each tag fail, on any server (their shells
        read and count down the file)."""
        path = self.config.state_dir.resolve() / PULL_FAULTS
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({t: n for t, n in failures.items() if n > 0}))
        tmp.replace(path)

    def failing_pulls(self) -> dict[str, int]:
        """What is left of ``set_failing_pulls`` (each failed pull counts one down)."""
        try:
            counts = json.loads((self.config.state_dir.resolve() / PULL_FAULTS).read_text())
        except (OSError, ValueError):
            return {}
        return {str(t): int(n) for t, n in counts.items() if int(n) > 0}

    # -- lookups ----------------------------------------------------------------------

    def server(self, server_id: int) -> Server:
        server = self.servers.get(server_id)
        if server is None:
            raise not_found(f"server with ID '{server_id}'")
        return server

    def action(self, action_id: int) -> Action:
        action = self.runner.actions.get(action_id)
        if action is None:
            raise not_found(f"action with ID '{action_id}'")
        return action

    def ssh_key(self, key_id: int) -> SshKey:
        key = self.ssh_keys.get(key_id)
        if key is None:
            raise not_found(f"ssh_key with ID '{key_id}'")
        return key

    def find_ssh_key(self, ref: str) -> SshKey | None:
        return next((k for k in self.ssh_keys.values() if ref in (k.name, str(k.id))), None)

    def _name_taken(self, name: str, *, other_than: int | None = None) -> bool:
        return any(s.name == name and s.id != other_than for s in self.servers.values())

    def _unlocked(self, server: Server) -> None:
        if self.runner.running_for(server.id) is not None:
            raise HetznerError("locked", "server is locked: another action is running")

    # -- servers ----------------------------------------------------------------------

    def create_server(
        self,
        *,
        name: str,
        server_type: str,
        image: str,
        location: str,
        labels: dict[str, str],
        user_data: str | None,
        ssh_keys: list[int],
        start: bool,
        enable_ipv4: bool,
        enable_ipv6: bool,
    ) -> tuple[Server, Action, list[Action], str | None]:
        """Registers the server at once (the name is taken from now on) and boots it later."""
        if self._name_taken(name):
            raise HetznerError(
                "uniqueness_error",
                "server name is already used",
                details={"fields": [{"name": "name", "messages": ["is already used"]}]},
            )
        stype = catalog.find_server_type(server_type)
        assert stype is not None
        server = Server(
            id=self.next_server_id,
            name=name,
            server_type=stype.name,
            image=image,
            location=location,
            ip=self.pool.allocate(),
            labels=labels,
            user_data=user_data,
            ssh_keys=ssh_keys,
            enable_ipv4=enable_ipv4,
            enable_ipv6=enable_ipv6,
            primary_disk_size=stype.disk,
        )
        self.next_server_id += 1
        self.servers[server.id] = server
        machine = self.machine_for(server)
        machine.provision(name, user_data, self.authorized_keys(server))

        async def created() -> None:
            if server.status == "initializing":
                server.status = "starting" if start else "off"
                self.changed()

        # A type with a create latency: the create action takes that long and its
        # start_server finishes with it, so the server is running after the latency.
        latency = self.config.latency_for(stype.name)
        create_for = latency.running or None
        create = self.runner.start("create_server", server.id, effect=created, on_error=created,
                                   duration=create_for)  # fmt: skip
        next_actions = []
        if start:
            next_actions.append(
                self._start_action(server, after=create, duration=0.0 if create_for else None)
            )
        self.changed()
        return server, create, next_actions, (None if ssh_keys else _root_password())

    def machine_for(self, server: Server) -> Machine:
        machine = self.machines.get(server.id)
        if machine is None:
            path = self.config.state_dir.resolve() / "servers" / str(server.id)
            machine = Machine(
                path, server.ip, self.config.sshd_path, lambda: self.config.failing_stack_tags
            )
            self.machines[server.id] = machine
        return machine

    def authorized_keys(self, server: Server) -> list[str]:
        return [self.ssh_keys[k].public_key for k in server.ssh_keys if k in self.ssh_keys]

    def _start_action(
        self, server: Server, *, after: Action | None = None, duration: float | None = None
    ) -> Action:
        previous = server.status

        async def started() -> None:
            if server.id in self.servers:
                server.status = "running"
                self._power_on(server)
                self.changed()

        async def failed() -> None:
            server.status = "off" if previous in ("initializing", "starting") else previous

        if after is None:
            server.status = "starting"
        return self.runner.start("start_server", server.id, effect=started, on_error=failed,
                                 after=after, duration=duration)  # fmt: skip

    def _power_on(self, server: Server) -> None:
        """Boots the machine with the server type's boot-to-health latency."""
        healthy = self.config.latency_for(server.server_type).healthy
        self.machines[server.id].power_on(self.config.boot_delay, healthy_after=healthy)

    def update_server(self, server: Server, *, name: str | None,
                      labels: dict[str, str] | None) -> None:  # fmt: skip
        if name is not None and name != server.name:
            if self._name_taken(name, other_than=server.id):
                raise HetznerError(
                    "uniqueness_error",
                    "server name is already used",
                    details={"fields": [{"name": "name", "messages": ["is already used"]}]},
                )
            server.name = name
            self.machines[server.id].rename(name)
        if labels is not None:
            server.labels = labels
        self.changed()

    async def delete_server(self, server: Server) -> Action:
        """Removes the server at once (its name is free again) and stops its machine."""
        del self.servers[server.id]
        machine = self.machines.pop(server.id, None)
        server.status = "deleting"
        if machine is not None:
            await machine.destroy()
        self.pool.release(server.ip)
        self.changed()
        return self.runner.start("delete_server", server.id)

    def power_on(self, server: Server) -> Action:
        self._unlocked(server)
        return self._start_action(server)

    def power_off(self, server: Server, *, graceful: bool) -> Action:
        self._unlocked(server)
        previous = server.status
        server.status = "stopping"

        async def stopped() -> None:
            await self.machines[server.id].power_off()
            server.status = "off"
            self.changed()

        async def failed() -> None:
            server.status = previous

        command = "shutdown_server" if graceful else "stop_server"
        return self.runner.start(command, server.id, effect=stopped, on_error=failed)

    def restart(self, server: Server, *, command: str) -> Action:
        """``reboot_server`` and ``reset_server``: down, then up after the boot delay."""
        self._unlocked(server)

        async def restarted() -> None:
            machine = self.machines[server.id]
            await machine.power_off()
            if server.status == "running":
                self._power_on(server)

        return self.runner.start(command, server.id, effect=restarted)

    def change_type(self, server: Server, server_type: str, upgrade_disk: bool) -> Action:
        self._unlocked(server)
        new = catalog.find_server_type(server_type)
        if new is None:
            raise invalid_input({"server_type": f"server type '{server_type}' not found"})
        if server.status != "off":
            raise HetznerError("server_not_stopped", "server must be stopped before changing type")
        if not new.available_in(server.location):
            raise HetznerError(
                "invalid_server_type",
                f"server type '{new.name}' is not available in location '{server.location}'",
            )
        if new.disk < server.primary_disk_size:
            raise HetznerError(
                "invalid_server_type",
                f"server type '{new.name}' has a smaller disk than the server",
            )
        server.status = "migrating"

        async def changed() -> None:
            server.server_type = new.name
            if upgrade_disk:
                server.primary_disk_size = new.disk
            server.status = "off"
            self.changed()

        async def failed() -> None:
            server.status = "off"

        return self.runner.start("change_server_type", server.id, effect=changed, on_error=failed)

    def rebuild(
        self, server: Server, image: str, user_data: str | None
    ) -> tuple[Action, str | None]:
        self._unlocked(server)
        previous = server.status
        server.status = "rebuilding"

        async def rebuilt() -> None:
            machine = self.machines[server.id]
            await machine.power_off()
            server.image = image
            if user_data is not None:
                server.user_data = user_data
            machine.provision(server.name, server.user_data, self.authorized_keys(server))
            server.status = "running"
            self._power_on(server)
            self.changed()

        async def failed() -> None:
            server.status = previous

        action = self.runner.start("rebuild_server", server.id, effect=rebuilt, on_error=failed)
        return action, (None if server.ssh_keys else _root_password())

    # -- ssh keys ---------------------------------------------------------------------

    def create_ssh_key(self, name: str, public_key: str, labels: dict[str, str]) -> SshKey:
        key = SshKey(id=self.next_ssh_key_id, name=name, public_key=public_key, labels=labels)
        for other in self.ssh_keys.values():
            if other.name == name:
                raise HetznerError(
                    "uniqueness_error",
                    "SSH key with the same name already exists",
                    details={"fields": [{"name": "name", "messages": ["is already used"]}]},
                )
            if other.fingerprint == key.fingerprint:
                raise HetznerError(
                    "uniqueness_error",
                    "SSH key with the same fingerprint already exists",
                    details={"fields": [{"name": "public_key", "messages": ["is already used"]}]},
                )
        self.next_ssh_key_id += 1
        self.ssh_keys[key.id] = key
        self.changed()
        return key

    # -- lifecycle --------------------------------------------------------------------

    def changed(self) -> None:
        for callback in self.on_change:
            callback()

    async def teardown(self) -> None:
        """Stops every machine and action (on reset and on exit): no process left behind."""
        await self.runner.cancel_all()
        machines = list(self.machines.values())
        await asyncio.gather(*(m.power_off() for m in machines), return_exceptions=True)

    async def reset(self) -> None:
        await self.teardown()
        for machine in self.machines.values():
            await machine.destroy()
        for server in self.servers.values():
            self.pool.release(server.ip)
        self.machines.clear()
        self.servers.clear()
        self.ssh_keys.clear()
        self.runner.reset()
        self.limiter.reset()
        self.config = replace(self.defaults)
        self.runner.duration = self.config.action_duration
        self.limiter.set_limit(self.config.rate_limit)
        self.set_failing_pulls({})
        self.changed()

    def admin_view(self) -> list[dict[str, Any]]:
        rows = []
        for server in self.servers.values():
            machine = self.machines.get(server.id)
            rows.append({
                "id": server.id,
                "name": server.name,
                "status": server.status,
                "ip": server.ip,
                "machine": machine.state if machine else "absent",
                "machine_error": machine.error if machine else None,
                "sshd_pid": machine.sshd.pid if machine else None,
                "dir": str(machine.fs.path) if machine else None,
                "host_keys": machine.host_public_keys if machine else {},
                "stack": machine.fs.stack_state() if machine else None,
                "stack_version": machine.fs.stack_version() if machine else None,
                "healthy_in": machine.fs.seconds_until_healthy() if machine else None,
                "labels": server.labels,
            })  # fmt: skip
        return rows
