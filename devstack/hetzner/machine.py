"""The machine behind an emulated server: its files, its sshd and its tenant stack.

A server's API status and its machine are separate on purpose, as on real hardware: a
``start_server`` action finishes when the machine is powered on, and SSH answers only
after the boot delay, so clients must wait for the host as they would on Hetzner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Literal

from devstack.hetzner import cloudinit, hostkeys
from devstack.hetzner.serverfs import STACK_RUNNING, STACK_STOPPED, ServerFS
from devstack.hetzner.sshd import Sshd, SshdError, kill_stale
from devstack.hetzner.stack import StackListener

log = logging.getLogger(__name__)

MachineState = Literal["off", "booting", "up", "error"]


class Machine:
    """Power state and processes of one server; all methods run on the emulator's loop."""

    def __init__(
        self,
        server_dir: Path,
        address: str,
        sshd_path: str,
        failing_tags: Callable[[], Collection[str]] = tuple,
    ) -> None:
        self.fs = ServerFS(server_dir)
        self.address = address
        self.sshd = Sshd(sshd_path, server_dir, address)
        self.stack = StackListener(self.fs, address, failing_tags=failing_tags)
        self.state: MachineState = "off"
        self.error: str | None = None
        self.host_public_keys: dict[str, str] = {}
        self._boot: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def provision(self, name: str, user_data: str | None, extra_keys: list[str]) -> None:
        """Installs the image: a fresh root, host keys and authorized keys, cloud-init files.

        Bad user data does not stop the server from existing (as on Hetzner, where
        cloud-init fails on the machine); the error shows in the admin view.
        """
        kill_stale(self.fs.path)
        shutil.rmtree(self.fs.path, ignore_errors=True)
        self.fs.root.mkdir(parents=True)
        self.fs.hostname_file.write_text(name + "\n")
        self.fs.set_stack_state(STACK_RUNNING)
        try:
            config = cloudinit.parse(user_data)
        except cloudinit.CloudInitError as exc:
            self.error = f"cloud-init: {exc}"
            config = cloudinit.CloudConfig()
        host_keys = dict(config.host_keys) or {"ed25519": hostkeys.new_ed25519(f"root@{name}")}
        self.host_public_keys = {}
        for kind, (private, public) in host_keys.items():
            path = self.fs.host_key(kind)
            path.touch(mode=0o600)
            path.write_text(private.strip() + "\n")
            path.with_suffix(".pub").write_text(public + "\n")
            self.host_public_keys[kind] = public
        keys = [*config.authorized_keys, *extra_keys]
        self.fs.authorized_keys.write_text("".join(k + "\n" for k in keys))
        if not config.starts_stack:
            self.fs.set_stack_state(STACK_STOPPED)
        try:
            cloudinit.apply_files(config, self.fs.root)
        except (cloudinit.CloudInitError, OSError) as exc:
            self.error = f"cloud-init write_files: {exc}"

    def restore(self) -> bool:
        """Picks up a server directory left by an earlier run; False if there is none."""
        keys = sorted(self.fs.path.glob("ssh_host_*_key.pub"))
        if not self.fs.root.is_dir() or not keys:
            return False
        kill_stale(self.fs.path)
        for pub in keys:
            kind = pub.name.removeprefix("ssh_host_").removesuffix("_key.pub")
            self.host_public_keys[kind] = pub.read_text().strip()
        return True

    def rename(self, name: str) -> None:
        if self.fs.path.exists():
            self.fs.hostname_file.write_text(name + "\n")

    def power_on(self, boot_delay: float, *, healthy_after: float = 0.0) -> None:
        """Starts booting; sshd and the stack answer ``boot_delay`` seconds later, and
        cloud-init (so the stack's health) is done ``healthy_after`` seconds from now."""
        if self._boot is not None and not self._boot.done():
            return
        if self.state == "up":
            return
        self.fs.set_healthy_at(time.time() + healthy_after if healthy_after > 0 else None)
        self.state, self.error = "booting", None
        self._boot = asyncio.create_task(self._run_boot(boot_delay))

    async def _run_boot(self, boot_delay: float) -> None:
        await asyncio.sleep(boot_delay)
        async with self._lock:
            try:
                keys = [self.fs.host_key(k) for k in self.host_public_keys]
                await self.sshd.start(keys)
                await self.stack.start()
            except (SshdError, OSError) as exc:
                log.error("server at %s failed to boot: %s", self.address, exc)
                self.error = str(exc)
                self.state = "error"
                await self._halt_processes()
                return
            self.state = "up"

    async def power_off(self) -> None:
        """Pulls the plug: the address stops answering before this returns."""
        boot, self._boot = self._boot, None
        if boot is not None and not boot.done():
            boot.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await boot
        async with self._lock:
            await self._halt_processes()
            self.state = "off"

    async def _halt_processes(self) -> None:
        await self.stack.stop()
        await self.sshd.stop()

    async def destroy(self) -> None:
        await self.power_off()
        shutil.rmtree(self.fs.path, ignore_errors=True)
