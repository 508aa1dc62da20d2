"""The on-disk layout of one emulated server, shared by the emulator and the server shell.

Kept free of heavy imports: the shell runs it on every SSH command.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

STACK_RUNNING = "running"
STACK_STOPPED = "stopped"
# Where cloud-init puts the stack's compose file; its `image:` tag is the running version.
COMPOSE_PATH = ("opt", "tenantry", "docker-compose.yml")
# An image tag as Docker accepts it.
TAG_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# Beside the servers' directories: image tags whose next pulls fail, with how many
# (``failing_pulls`` in ``/_admin/config``), shared by every server's shell.
PULL_FAULTS = "pull_faults.json"
_IMAGE_LINE = re.compile(r"^(?P<indent>\s*image:\s*)(?P<ref>\S+)\s*$", re.MULTILINE)


def split_image(ref: str) -> tuple[str, str | None]:
    """``repo[:tag]`` into repository and tag (a registry port is not a tag)."""
    repo, sep, tag = ref.rpartition(":")
    if not sep or "/" in tag:
        return ref, None
    return repo, tag


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

    @property
    def compose_file(self) -> Path:
        return self.root.joinpath(*COMPOSE_PATH)

    @property
    def started_file(self) -> Path:
        return self.path / "stack.started"

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

    def stack_version(self) -> str | None:
        """The image tag in the stack's compose file; None when no stack is installed."""
        try:
            match = _IMAGE_LINE.search(self.compose_file.read_text())
        except OSError:
            return None
        return split_image(match["ref"])[1] if match else None

    def set_stack_version(self, tag: str) -> None:
        """Points every service's image at ``tag`` (what ``docker compose up`` then runs)."""

        def retag(match: re.Match[str]) -> str:
            return f"{match['indent']}{split_image(match['ref'])[0]}:{tag}"

        text = _IMAGE_LINE.sub(retag, self.compose_file.read_text())
        tmp = self.compose_file.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(self.compose_file)

    @property
    def running_file(self) -> Path:
        return self.path / "stack.running"

    @property
    def pulled_file(self) -> Path:
        return self.path / "images.pulled"

    def running_version(self) -> str | None:
        """The tag the stack's containers were created from (``docker inspect``'s answer).

        Until a deploy recreated them, that is the compose file's tag cloud-init started.
        """
        try:
            return self.running_file.read_text().strip() or None
        except FileNotFoundError:
            return self.stack_version()

    def set_running_version(self, tag: str) -> None:
        self.running_file.write_text(tag + "\n")

    def pulled(self, tag: str) -> bool:
        try:
            return tag in self.pulled_file.read_text().split()
        except FileNotFoundError:
            return False

    def pull(self, tag: str) -> str | None:
        """Pulls the stack's image at ``tag``; the error a failing registry gives, or None."""
        faults_path = self.path.parent.parent / PULL_FAULTS
        try:
            faults: dict[str, int] = json.loads(faults_path.read_text())
        except (OSError, ValueError):
            faults = {}
        if faults.get(tag, 0) > 0:
            faults[tag] -= 1
            tmp = faults_path.with_name(f"{PULL_FAULTS}.{self.path.name}.tmp")
            tmp.write_text(json.dumps(faults))
            tmp.replace(faults_path)
            return f"Error response from daemon: pulling tag {tag}: net/http: request canceled"
        if not self.pulled(tag):
            with self.pulled_file.open("a") as f:
                f.write(tag + "\n")
        return None

    @property
    def healthy_at_file(self) -> Path:
        return self.path / "cloudinit.done_at"

    def set_healthy_at(self, when: float | None) -> None:
        """When this boot's cloud-init finishes (a server type's boot-to-health latency);
        None: at once."""
        if when is None:
            self.healthy_at_file.unlink(missing_ok=True)
        else:
            self.healthy_at_file.write_text(f"{when}\n")

    def seconds_until_healthy(self) -> float:
        """How long cloud-init still runs on this boot (0 once it is done)."""
        try:
            done_at = float(self.healthy_at_file.read_text().strip())
        except (OSError, ValueError):
            return 0.0
        return max(0.0, done_at - time.time())

    def mark_started(self) -> None:
        """The stack's containers were (re)created now: they take a moment to answer."""
        self.started_file.write_text(f"{time.time()}\n")

    def seconds_since_start(self) -> float | None:
        try:
            return time.time() - float(self.started_file.read_text().strip())
        except (OSError, ValueError):
            return None
