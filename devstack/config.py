"""Where the local stack (`tenantry dev`) puts its parts: ports and the state directory.

These are settings of the developer's machine, not of the product, so they live apart
from ``tenantry.settings`` under their own prefix ``TENANTRY_DEV_``: moving every port
(``TENANTRY_DEV_TEMPORAL_PORT=17233`` ...) lets a second stack or a test run beside a
running `tenantry dev`. The defaults are the CONTRACT's local-stack table.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DevStackSettings(BaseSettings):
    """Ports of every part of the local stack, all bound to ``host`` (loopback only)."""

    model_config = SettingsConfigDict(env_prefix="TENANTRY_DEV_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    state_dir: Path = Path(".tenantry")

    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    postgres_port: int = 5433
    hetzner_port: int = 8470
    stripe_port: int = 12111
    moto_port: int = 5055
    smtp_port: int = 1025
    mail_api_port: int = 8025
    caddy_port: int = 8080
    caddy_admin_port: int = 2019
    api_port: int = 8000

    # Loopback addresses, for a second stack beside the first: the pod hosts' sshd listen
    # on port 22 of <pod_host_network>.1, .2; emulated Hetzner servers get addresses here.
    pod_host_network: str = Field(default="127.0.10", pattern=r"^127\.\d{1,3}\.\d{1,3}$")
    hetzner_network: str = Field(default="127.20.0.0/16", pattern=r"^127\.[0-9./]+$")
    # The Linux bridge of the private dockerd (when no daemon answers): one per stack.
    docker_bridge: str = Field(default="tnt-dev0", pattern=r"^[a-z0-9-]{1,15}$")

    # How long one part may take to become healthy before `tenantry dev` gives up.
    ready_timeout: float = 60.0
    # Parts not to start, comma-separated (e.g. "worker" to run it in a debugger instead).
    skip: str = ""

    @property
    def skipped_parts(self) -> set[str]:
        return {name.strip() for name in self.skip.split(",") if name.strip()}

    @property
    def state_path(self) -> Path:
        """The state directory as an absolute path (children may run in another cwd)."""
        return self.state_dir.expanduser().resolve()

    @property
    def logs_dir(self) -> Path:
        return self.state_path / "logs"

    def log_path(self, part: str) -> Path:
        return self.logs_dir / f"{part}.log"
