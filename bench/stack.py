"""The stack every benchmark measures on: a real `tenantry dev`, on free ports, in a temp dir.

A benchmark runs the product and its raw baseline against the same servers in the same
run, so both go through one `DevStack`: the product through its API and worker, the
baseline through the very clients the worker builds (`stack.settings()` is the worker's
own settings, read from the worker process's environment).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from devstack.admin import EmulatorAdmin
from devstack.config import DevStackSettings
from devstack.procs import distinct_free_ports
from tenantry.settings import WorkerSettings

REPO = Path(__file__).resolve().parents[1]
TENANTRY = Path(sys.executable).parent / "tenantry"
PORT_FIELDS = [
    name
    for name, info in DevStackSettings.model_fields.items()
    if name.endswith("_port") and info.annotation is int
]


@dataclass
class DevStack:
    """A running `tenantry dev`: its ports, secrets, and the worker's settings."""

    proc: subprocess.Popen[str]
    root: Path
    env: dict[str, str]
    lines: list[str] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def state_dir(self) -> Path:
        return Path(self.env["TENANTRY_DEV_STATE_DIR"])

    def port(self, name: str) -> int:
        return int(self.env[f"TENANTRY_DEV_{name.upper()}_PORT"])

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port(name)}"

    @property
    def api_url(self) -> str:
        return self.url("api")

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.port('temporal')}"

    def pid(self, part: str) -> int:
        return int(self.state["processes"][part]["pid"])

    def process_env(self, part: str) -> dict[str, str]:
        """The TENANTRY_* environment `tenantry dev` gave one of its parts."""
        raw = Path(f"/proc/{self.pid(part)}/environ").read_bytes().split(b"\0")
        pairs = (item.decode().partition("=") for item in raw if item)
        return {k: v for k, _, v in pairs if k.startswith("TENANTRY_")}

    def settings(self) -> WorkerSettings:
        """The worker's settings: the baseline uses the same endpoints and credentials."""
        with patched_environ(self.process_env("worker")):
            return WorkerSettings()

    @property
    def admin_token(self) -> str:
        return self.process_env("api")["TENANTRY_ADMIN_TOKEN"]

    def admin(self, timeout: float = 30) -> httpx.Client:
        return httpx.Client(
            base_url=self.api_url,
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=timeout,
        )

    def hetzner_admin(self) -> EmulatorAdmin:
        return EmulatorAdmin(self.url("hetzner"))

    def stripe_admin(self) -> EmulatorAdmin:
        return EmulatorAdmin(self.url("stripe"))

    def new_account(self, email: str) -> tuple[str, str]:
        """An account and its API key."""
        with self.admin() as admin:
            response = admin.post("/v1/admin/accounts", json={"email": email})
            response.raise_for_status()
            body = response.json()
        return str(body["account_id"]), str(body["api_key"])

    def log(self, part: str) -> Path:
        return self.state_dir / "logs" / f"{part}.log"

    def stop(self, *, keep: bool = False) -> None:
        """Ctrl-C, as a user would; ``keep`` leaves the state dir (logs) for a post-mortem."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(120)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
        if keep:
            print(f"bench: the stack's logs are kept in {self.state_dir / 'logs'}", flush=True)
        else:
            shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    saved = {k: v for k, v in os.environ.items() if k.startswith("TENANTRY_")}
    for key in saved:
        del os.environ[key]
    os.environ.update(values)
    try:
        yield
    finally:
        for key in values:
            os.environ.pop(key, None)
        os.environ.update(saved)


@contextlib.contextmanager
def dev_stack(
    overrides: Mapping[str, str] | None = None, *, skip: str = "", timeout: float = 240
) -> Iterator[DevStack]:
    """`tenantry dev` with every port free and its state in a temp dir; stopped on exit.

    ``overrides`` are TENANTRY_* settings for the API and the worker (e.g. a higher
    signup rate limit); ``skip`` is TENANTRY_DEV_SKIP.
    """
    # dockerd's containerd socket lives under the state dir: keep the path short.
    root = Path(tempfile.mkdtemp(prefix="tbench-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
    env["TENANTRY_DEV_STATE_DIR"] = str(root / "state")
    env["TENANTRY_DEV_SKIP"] = skip
    env["TENANTRY_DEV_READY_TIMEOUT"] = "120"
    # Loopback networks of its own, so that benchmarks, tests and a developer's
    # `tenantry dev` (127.0.10.x, 127.20.x.y) never want the same sshd address.
    octet = random.randrange(60, 100)
    env["TENANTRY_DEV_HETZNER_NETWORK"] = f"127.{octet}.0.0/16"
    env["TENANTRY_DEV_POD_HOST_NETWORK"] = f"127.{octet + 40}.0"
    env["TENANTRY_DEV_DOCKER_BRIDGE"] = f"tntb{octet}"
    for name, port in zip(PORT_FIELDS, distinct_free_ports(len(PORT_FIELDS)), strict=True):
        env[f"TENANTRY_DEV_{name.upper()}"] = str(port)
    env.update(overrides or {})
    env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen(
        [str(TENANTRY), "dev"],
        env=env,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    stack = DevStack(proc=proc, root=root, env=env)

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            stack.lines.append(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    try:
        deadline = time.monotonic() + timeout
        while not any("Press Ctrl-C" in line for line in stack.lines):
            if proc.poll() is not None or time.monotonic() > deadline:
                output = "\n".join(stack.lines)
                raise RuntimeError(f"tenantry dev did not come up:\n{output}")
            time.sleep(0.1)
        stack.state = json.loads((stack.state_dir / "dev.json").read_text())
        yield stack
    except BaseException:
        stack.stop(keep=True)
        raise
    stack.stop()
