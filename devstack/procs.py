"""Starting and stopping the local stack's server processes.

``tenantry dev`` and the test fixtures start the same real servers the same way: a child
process with its output in a log file, a readiness probe with a deadline, and a stop that
sends SIGTERM to the process group and escalates to SIGKILL, so nothing is left behind.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


class StackError(RuntimeError):
    """A part of the local stack could not be started or is misconfigured."""


EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST_PORT = 20000  # above the fixed ports of `tenantry dev` (devstack/config.py)
_handed_out: set[int] = set()


def _ephemeral_low() -> int:
    """The first port the kernel hands out by itself (32768 on Linux unless tuned)."""
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bound_below_ephemeral(host: str) -> socket.socket:
    """A socket bound to a free port below the kernel's ephemeral range.

    A port from ``bind(0)`` comes from that range, where any process may be given it
    next: `temporal server start-dev` binds several random free ports of its own while
    it starts, and once took the port chosen for the Stripe emulator started after it.
    Below the range, only an explicit bind can take a port.
    """
    high = _ephemeral_low()
    if high - LOWEST_PORT < 1000:
        s = socket.socket()
        s.bind((host, 0))
        return s  # a tuned range leaves nothing below it: the kernel's choice
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(LOWEST_PORT, high)
        if port in _handed_out:
            continue
        s = socket.socket()
        try:
            s.bind((host, port))
        except OSError:
            s.close()
            continue
        _handed_out.add(port)
        return s
    raise StackError(f"no free port between {LOWEST_PORT} and {high} on {host}")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago and that no process is given by chance."""
    with _bound_below_ephemeral(host) as s:
        return int(s.getsockname()[1])


def distinct_free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` free ports, none twice (each socket stays bound until all are chosen)."""
    sockets = []
    try:
        for _ in range(count):
            sockets.append(_bound_below_ephemeral(host))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def tcp_ready(host: str, port: int) -> Callable[[], bool]:
    return lambda: port_in_use(host, port)


def http_ready(
    url: str, *, accept: Callable[[int], bool] = lambda s: s < 500
) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return accept(response.status)
        except urllib.error.HTTPError as exc:
            return accept(exc.code)
        except (OSError, ValueError):
            return False

    return probe


def wait_until(
    probe: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    proc: subprocess.Popen[bytes] | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.02
    while time.monotonic() < deadline:
        if probe():
            return
        if proc is not None and proc.poll() is not None:
            raise StackError(f"{what} exited with code {proc.returncode} before it was ready")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)
    raise StackError(f"{what} was not ready within {timeout:.0f}s")


@dataclass
class ManagedProcess:
    """One server process of the stack, started in its own process group."""

    name: str
    argv: Sequence[str]
    log_path: Path
    ready: Callable[[], bool] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    ready_timeout: float = 30.0
    stop_timeout: float = 10.0
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        try:
            self.proc = subprocess.Popen(
                list(self.argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env},
                cwd=self.cwd,
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise StackError(f"{self.name}: {self.argv[0]} is not installed") from exc
        finally:
            log.close()
        if self.ready is not None:
            try:
                wait_until(self.ready, timeout=self.ready_timeout, what=self.name, proc=self.proc)
            except StackError as exc:
                self.stop()
                raise StackError(f"{exc}; see {self.log_path}:\n{self.log_tail()}") from None
        return self

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """SIGTERM the whole process group, then SIGKILL what is still alive."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        # Children that left the group still hold the session: reap them too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL without grace: what a crash looks like (used by crash tests)."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
