"""One real OpenSSH ``sshd`` per emulated server, bound to the server's own address.

``ForceCommand`` hands every session to the emulated server shell
(``python -m devstack.hetzner.shell``), so a client runs real SSH with real host-key
checks while nothing it sends runs on the machine itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import sys
from pathlib import Path
from typing import BinaryIO

PR_SET_PDEATHSIG = 1
REPO_ROOT = Path(__file__).resolve().parents[2]


class SshdError(RuntimeError):
    """sshd is missing, refused its configuration, or did not come up in time."""


def _die_with_parent() -> None:
    """Runs in the child: SIGTERM it when the emulator dies, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def render_config(server_dir: Path, address: str, host_key_paths: list[Path]) -> str:
    shell = f"{sys.executable} -S -m devstack.hetzner.shell"
    lines = [
        f"ListenAddress {address}:22",
        *(f"HostKey {p}" for p in host_key_paths),
        f"PidFile {server_dir / 'sshd.pid'}",
        f"AuthorizedKeysFile {server_dir / 'authorized_keys'}",
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "UseDNS no",
        "PrintMotd no",
        "X11Forwarding no",
        "AllowTcpForwarding no",
        "AllowAgentForwarding no",
        "PermitTunnel no",
        "MaxStartups 100:30:200",
        # HOME: the login shell that runs ForceCommand sources ~/.bashrc, and the
        # developer's (pyenv hooks, locks) must not run, or stall, on every session.
        f"SetEnv TENANTRY_SERVER_DIR={server_dir} PYTHONPATH={REPO_ROOT} HOME={server_dir}",
        f"ForceCommand {shell}",
    ]
    return "\n".join(lines) + "\n"


def _descendants(pid: int) -> list[int]:
    """All processes below ``pid`` (sshd's per-connection children start new sessions)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(pid: int, sig: int = signal.SIGKILL) -> None:
    for target in [*_descendants(pid), pid]:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(target, sig)


def _port_open(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((address, port)) == 0


class Sshd:
    """The sshd listener process of one server."""

    def __init__(self, sshd_path: str, server_dir: Path, address: str) -> None:
        self.sshd_path = sshd_path
        self.server_dir = server_dir
        self.address = address
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def config_path(self) -> Path:
        return self.server_dir / "sshd_config"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.returncode is None else None

    def _prepare(self, host_key_paths: list[Path]) -> BinaryIO:
        if not os.access(self.sshd_path, os.X_OK):
            raise SshdError(f"{self.sshd_path} is not installed (Debian: openssh-server)")
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(render_config(self.server_dir, self.address, host_key_paths))
        return (self.server_dir / "sshd.log").open("ab")

    def _log_tail(self) -> str:
        return (self.server_dir / "sshd.log").read_text(errors="replace")[-800:]

    async def start(self, host_key_paths: list[Path], wait: float = 10.0) -> None:
        log = self._prepare(host_key_paths)
        try:
            self.proc = await asyncio.create_subprocess_exec(
                self.sshd_path, "-D", "-e", "-f", str(self.config_path),
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True, preexec_fn=_die_with_parent,
            )  # fmt: skip
        finally:
            log.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while not await asyncio.to_thread(_port_open, self.address, 22):
            if self.proc.returncode is not None or loop.time() > deadline:
                await self.stop()
                raise SshdError(f"sshd on {self.address}:22 did not come up:\n{self._log_tail()}")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """Kills the listener and every session below it, as pulling the plug would."""
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        kill_tree(proc.pid)
        await proc.wait()


def kill_stale(server_dir: Path) -> None:
    """Stops an sshd a crashed emulator left behind for this server directory."""
    pid_file = server_dir / "sshd.pid"
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return
    if str(server_dir / "sshd_config").encode() in cmdline:
        kill_tree(pid, signal.SIGKILL)
