"""Run-time settings of the emulator: CLI flags, some changeable via ``/_admin/config``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_TOKEN = "dev-placeholder-hetzner-token"
DEFAULT_PORT = 8470


@dataclass
class EmulatorConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    token: str = DEFAULT_TOKEN
    network: str = "127.20.0.0/16"
    first_address: str | None = None
    state_dir: Path = Path(".tenantry/hetzner")
    boot_delay: float = 2.0
    action_duration: float = 1.0
    rate_limit: int = 3600
    sshd_path: str = "/usr/sbin/sshd"
    persist: bool = False
    # Image tags whose tenant app never answers healthy (a broken release), for rollbacks.
    failing_stack_tags: tuple[str, ...] = ()
