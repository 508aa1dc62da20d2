"""Optional persistence (``--persist``): the project survives an emulator restart.

Servers, SSH keys and ID counters go to ``<state-dir>/state.json`` after every change;
each server's files (root, host keys, stack state) already live in its directory. On
start the saved servers come back and the running ones boot again. Actions in flight are
not kept: a server caught mid-action settles in the state that action was heading for.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from devstack.hetzner.emulator import Emulator
from devstack.hetzner.models import Server, SshKey

log = logging.getLogger(__name__)

VERSION = 1
_SETTLED = {"starting": "running", "rebuilding": "running", "initializing": "running",
            "stopping": "off", "migrating": "off", "deleting": "off"}  # fmt: skip


def state_file(emu: Emulator) -> Path:
    return emu.config.state_dir / "state.json"


def save(emu: Emulator) -> None:
    data: dict[str, Any] = {
        "version": VERSION,
        "next_server_id": emu.next_server_id,
        "next_ssh_key_id": emu.next_ssh_key_id,
        "servers": [s.dump() for s in emu.servers.values()],
        "ssh_keys": [k.dump() for k in emu.ssh_keys.values()],
    }
    path = state_file(emu)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def load(emu: Emulator) -> int:
    """Restores saved servers and boots the running ones; returns how many came back."""
    path = state_file(emu)
    if not path.exists():
        return 0
    data = json.loads(path.read_text())
    if data.get("version") != VERSION:
        log.warning("ignoring %s: unknown version %r", path, data.get("version"))
        return 0
    emu.next_server_id = int(data["next_server_id"])
    emu.next_ssh_key_id = int(data["next_ssh_key_id"])
    for raw in data["ssh_keys"]:
        key = SshKey(**raw)
        emu.ssh_keys[key.id] = key
    for raw in data["servers"]:
        server = Server(**raw)
        server.status = _SETTLED.get(server.status, server.status)
        emu.pool.reserve(server.ip)
        emu.servers[server.id] = server
        machine = emu.machine_for(server)
        if not machine.restore():
            machine.provision(server.name, server.user_data, emu.authorized_keys(server))
        if server.status == "running":
            machine.power_on(emu.config.boot_delay)
    return len(emu.servers)


def enable(emu: Emulator) -> None:
    """Loads saved state, then saves after every change."""
    restored = load(emu)
    if restored:
        log.info("restored %d servers from %s", restored, state_file(emu))
    emu.on_change.append(lambda: save(emu))
