"""The on-disk layout of one emulated server, shared by the emulator and the server shell.

Kept free of heavy imports: the shell runs it on every SSH command.
"""

from __future__ import annotations

from pathlib import Path

STACK_RUNNING = "running"
STACK_STOPPED = "stopped"


class ServerFS:
    """``<state-dir>/servers/<id>/``: root filesystem, keys, sshd files, stack state."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def root(self) -> Path:
        return self.path / "root"

    @property
    def authorized_keys(self) -> Path:
        return self.path / "authorized_keys"

    @property
    def hostname_file(self) -> Path:
        return self.path / "hostname"

    @property
    def stack_file(self) -> Path:
        return self.path / "stack.state"

    def host_key(self, kind: str) -> Path:
        return self.path / f"ssh_host_{kind}_key"

    def hostname(self) -> str:
        try:
            return self.hostname_file.read_text().strip()
        except OSError:
            return "localhost"

    def stack_state(self) -> str:
        """The tenant stack's state; a fresh server's stack runs."""
        try:
            return self.stack_file.read_text().strip() or STACK_RUNNING
        except FileNotFoundError:
            return STACK_RUNNING

    def set_stack_state(self, state: str) -> None:
        tmp = self.stack_file.with_suffix(".tmp")
        tmp.write_text(state + "\n")
        tmp.replace(self.stack_file)
