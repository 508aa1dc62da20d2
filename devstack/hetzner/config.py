"""Run-time settings of the emulator: CLI flags, some changeable via ``/_admin/config``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field

DEFAULT_TOKEN = "dev-placeholder-hetzner-token"
DEFAULT_PORT = 8470
ANY_TYPE = "*"


class ServerLatency(BaseModel):
    """How long a real server of one type takes: create -> ``running`` (the create action
    and its ``start_server`` next action finish then, their ``progress`` growing with
    it), and ``running`` -> healthy (cloud-init installing the stack: ``cloud-init status``
    says ``running`` and the stack's ``/health`` answers 503 until then). 0 is off."""

    running: float = Field(default=0.0, ge=0)
    healthy: float = Field(default=0.0, ge=0)


def parse_latency(text: str) -> tuple[str, ServerLatency]:
    """``TYPE=RUNNING:HEALTHY`` (``*`` for every type), as the CLI flag takes it."""
    server_type, sep, delays = text.partition("=")
    running, sep2, healthy = delays.partition(":")
    if not sep or not sep2 or not server_type:
        raise ValueError(f"expected TYPE=RUNNING:HEALTHY, not {text!r}")
    return server_type, ServerLatency(running=float(running), healthy=float(healthy))


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
    # Per server type (``*``: any other type); none: servers are ready after the
    # action duration and boot delay, as tests want.
    server_latency: dict[str, ServerLatency] = field(default_factory=dict)

    def latency_for(self, server_type: str) -> ServerLatency:
        found = self.server_latency.get(server_type) or self.server_latency.get(ANY_TYPE)
        return found or ServerLatency()
