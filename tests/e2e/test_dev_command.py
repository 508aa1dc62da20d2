"""`tenantry dev` as a user runs it: up, healthy, Ctrl-C leaves nothing, a rerun resumes.

Every port is moved to a free one through ``TENANTRY_DEV_*`` and the state dir is a temp
dir, so this runs beside a developer's own `tenantry dev`. Every process the stack starts
inherits ``TENANTRY_DEV_STATE_DIR``; after Ctrl-C no process on the machine may still
carry that value, which catches grandchildren too (sshd, the UI server, postgres, ...).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from devstack.config import DevStackSettings
from devstack.dev import DevContext, DevPart, DevStack, core_parts
from devstack.mailbox import Mailbox
from devstack.moto import s3_client
from devstack.procs import distinct_free_ports, free_port, port_in_use
from devstack.temporal import temporal_binary
from tenantry.settings import CoreSettings
from tests.support.poll import eventually

pytestmark = pytest.mark.slow

PORT_FIELDS = [
    name
    for name, info in DevStackSettings.model_fields.items()
    if name.endswith("_port") and info.annotation is int
]
TENANTRY = Path(sys.executable).parent / "tenantry"


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A temp dir with a short path: dockerd's containerd socket lives under the state
    dir, and a Unix socket path may not exceed 107 bytes (pytest's tmp_path is long)."""
    path = Path(tempfile.mkdtemp(prefix="tdev-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def dev_env(short_tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
    env["TENANTRY_DEV_STATE_DIR"] = str(short_tmp / "state")
    for name, port in zip(PORT_FIELDS, distinct_free_ports(len(PORT_FIELDS)), strict=True):
        env[f"TENANTRY_DEV_{name.upper()}"] = str(port)
    # Addresses and a bridge of its own too, so that it runs beside a developer's stack.
    octet = 140 + os.getpid() % 50
    env["TENANTRY_DEV_POD_HOST_NETWORK"] = f"127.{octet}.0"
    env["TENANTRY_DEV_HETZNER_NETWORK"] = f"127.{octet}.128.0/17"
    env["TENANTRY_DEV_DOCKER_BRIDGE"] = f"tnte{octet}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


class DevRun:
    """One `tenantry dev` child, its output collected line by line."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.state_dir = Path(env["TENANTRY_DEV_STATE_DIR"])
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [str(TENANTRY), "dev"],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_until_up(self, timeout: float = 180) -> dict[str, object]:

        def up() -> bool:
            if any("Press Ctrl-C" in line for line in self.lines):
                return True
            if self.proc.poll() is not None:
                self._reader.join(5)
                pytest.fail(f"tenantry dev exited {self.proc.returncode}:\n{self.output}")
            return False

        eventually(
            up,
            timeout=timeout,
            what=lambda _: f"tenantry dev not up within {timeout}s:\n{self.output}",
        )
        state = json.loads((self.state_dir / "dev.json").read_text())
        assert isinstance(state, dict)
        return state

    def interrupt(self, timeout: float = 90) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"tenantry dev did not stop within {timeout}s:\n{self.output}")
        self._reader.join(5)
        return code

    def kill(self) -> None:
        """Last resort for a failed test: take everything the run started down with it."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(60)
        for pid in processes_marked(self.state_dir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def processes_marked(state_dir: Path) -> list[int]:
    """PIDs of live processes whose environment carries this run's state dir."""
    marker = f"TENANTRY_DEV_STATE_DIR={state_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            status = (entry / "status").read_text()
        except OSError:
            continue
        if marker in environ and "State:\tZ" not in status:
            found.append(int(entry.name))
    return found


@pytest.fixture
def runs() -> Iterator[list[DevRun]]:
    started: list[DevRun] = []
    yield started
    for run in started:
        run.kill()


def assert_nothing_left(run: DevRun, state: dict[str, object]) -> None:
    left = processes_marked(run.state_dir)
    details = {pid: Path(f"/proc/{pid}/cmdline").read_bytes() for pid in left}
    assert not left, f"processes left behind: {details}"
    processes = state["processes"]
    assert isinstance(processes, dict)
    for name, info in processes.items():
        with pytest.raises(ProcessLookupError):
            os.kill(info["pid"], 0)
            pytest.fail(f"{name} (pid {info['pid']}) still runs")
    ports = state["ports"]
    assert isinstance(ports, dict)
    busy = {name: port for name, port in ports.items() if port_in_use("127.0.0.1", port)}
    assert not busy, f"ports still in use: {busy}"
    assert not (run.state_dir / "dev.json").exists()
    mounts = [
        line for line in Path("/proc/mounts").read_text().splitlines() if str(run.state_dir) in line
    ]
    assert not mounts, f"mounts left behind: {mounts}"


def temporal_cli(address: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(temporal_binary()), *args, "--address", address],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def aws_settings(env: dict[str, str]) -> CoreSettings:
    url = f"http://127.0.0.1:{env['TENANTRY_DEV_MOTO_PORT']}"
    return CoreSettings(route53_endpoint=url, s3_endpoint=url)


def admin_token(output: str) -> str:
    match = re.search(r"admin token\s+(\S+)", output)
    assert match, output
    return match.group(1)


def available_hosts(api: str, token: str) -> dict[str, bool]:
    """`tenantry hosts list --json` against the dev stack: host name -> takes new pods."""
    result = subprocess.run(
        [str(TENANTRY), "hosts", "list", "--json", "--api-url", api, "--token", token],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return {h["name"]: h["available"] for h in json.loads(result.stdout)}


def test_dev_comes_up_stops_cleanly_and_resumes(
    dev_env: dict[str, str], tmp_path: Path, runs: list[DevRun]
) -> None:
    env = dev_env
    host = "127.0.0.1"
    temporal = f"{host}:{env['TENANTRY_DEV_TEMPORAL_PORT']}"
    ui = f"http://{host}:{env['TENANTRY_DEV_TEMPORAL_UI_PORT']}"
    mail_api = f"http://{host}:{env['TENANTRY_DEV_MAIL_API_PORT']}"
    api = f"http://{host}:{env['TENANTRY_DEV_API_PORT']}"

    # --- first run -------------------------------------------------------------------
    first = DevRun(env, tmp_path)
    runs.append(first)
    state = first.wait_until_up()
    urls = state["urls"]
    assert isinstance(urls, dict)
    assert urls["Temporal UI"] == ui
    assert httpx.get(ui, timeout=10).status_code == 200
    processes = state["processes"]
    assert isinstance(processes, dict)
    token = admin_token(first.output)
    if "api" in processes:
        assert urls["API docs"] == f"{api}/docs"
        assert httpx.get(f"{api}/readyz", timeout=10).status_code == 200
        assert httpx.get(f"{api}/docs", timeout=10).status_code == 200
        # Each pod host's agent registered it: both take pods.
        assert urls["host agent host-1"].startswith(f"-> {api}")
        assert available_hosts(api, token) == {"host-1": True, "host-2": True}
    if "caddy" in processes:
        # The edge: its admin API, and a 404 for a host that is no pod's.
        admin = f"http://{host}:{env['TENANTRY_DEV_CADDY_ADMIN_PORT']}"
        assert urls["Caddy admin"] == admin
        assert "edge-agent" in processes
        edge = f"http://{host}:{env['TENANTRY_DEV_CADDY_PORT']}"
        stranger = httpx.get(edge, headers={"Host": "http-x-0123456789ab.pods.localhost"})
        assert stranger.status_code == 404, stranger.text

    # Leave state behind in Temporal and in the mail sink for the second run to find.
    workflow_id = f"dev-e2e-{uuid.uuid4().hex[:8]}"
    started = temporal_cli(
        temporal,
        "workflow",
        "start",
        "--type",
        "NobodyRunsThis",
        "--task-queue",
        "dev-e2e",
        "--workflow-id",
        workflow_id,
    )
    assert started.returncode == 0, started.stderr
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@x.test", "b@x.test", "kept"
    message.set_content("across restarts")
    with smtplib.SMTP(host, int(env["TENANTRY_DEV_SMTP_PORT"]), timeout=10) as smtp:
        smtp.send_message(message)
    with Mailbox(mail_api) as box:
        box.wait_for(to="b@x.test", timeout=10)
    aws = aws_settings(env)
    s3_client(aws).put_object(Bucket=aws.s3_bucket, Key="snapshots/e2e", Body=b"kept")

    assert first.interrupt() == 0, first.output
    assert_nothing_left(first, state)

    # --- second run: same state dir --------------------------------------------------
    second = DevRun(env, tmp_path)
    runs.append(second)
    state = second.wait_until_up()
    assert httpx.get(ui, timeout=10).status_code == 200
    assert admin_token(second.output) == token
    described = temporal_cli(temporal, "workflow", "describe", "--workflow-id", workflow_id)
    assert described.returncode == 0, described.stderr
    with Mailbox(mail_api) as box:
        assert [m.subject for m in box.messages(to="b@x.test")] == ["kept"]
    body = s3_client(aws).get_object(Bucket=aws.s3_bucket, Key="snapshots/e2e")["Body"]
    assert body.read() == b"kept"
    if "api" in state["processes"]:  # type: ignore[operator]
        assert httpx.get(f"{api}/readyz", timeout=10).status_code == 200
        assert available_hosts(api, token) == {"host-1": True, "host-2": True}

    assert second.interrupt() == 0, second.output
    assert_nothing_left(second, state)


def test_port_in_use_gives_one_clear_line_and_exit_1(
    dev_env: dict[str, str], tmp_path: Path
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(dev_env["TENANTRY_DEV_MOTO_PORT"])))
        squatter.listen()
        result = subprocess.run(
            [str(TENANTRY), "dev"],
            env=dev_env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    port = dev_env["TENANTRY_DEV_MOTO_PORT"]
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [
        f"tenantry dev: port {port} (moto) on 127.0.0.1 is already in use; "
        "stop what listens there or set TENANTRY_DEV_MOTO_PORT"
    ]
    assert "Traceback" not in result.stdout + result.stderr
    assert processes_marked(Path(dev_env["TENANTRY_DEV_STATE_DIR"])) == []


def test_a_failing_part_stops_what_started_before_it(tmp_path: Path) -> None:
    """In process: Temporal comes up, the next part fails, Temporal is stopped again."""
    settings = DevStackSettings(
        state_dir=tmp_path / "state",
        temporal_port=free_port(),
        temporal_ui_port=free_port(),
        ready_timeout=30,
    )

    def broken(ctx: DevContext) -> None:
        from devstack.procs import StackError

        raise StackError("broken: refuses to start")

    temporal_part = next(p for p in core_parts() if p.name == "temporal")
    stack = DevStack(settings, [temporal_part, DevPart("broken", "broken", broken)])
    assert stack.run() == 1
    assert stack.started == []
    assert not port_in_use("127.0.0.1", settings.temporal_port)
    assert not port_in_use("127.0.0.1", settings.temporal_ui_port)
    assert not (settings.state_path / "dev.json").exists()
    assert (settings.state_path / "temporal.db").exists()


def test_ctrl_c_while_starting_stops_what_was_started(
    dev_env: dict[str, str], short_tmp: Path, runs: list[DevRun]
) -> None:
    run = DevRun(dev_env, short_tmp)
    runs.append(run)

    def temporal_starting() -> bool:
        assert run.proc.poll() is None, run.output
        return any("+ Temporal" in line for line in run.lines)

    eventually(temporal_starting, timeout=60, what=lambda _: run.output, interval=0.02)
    assert run.interrupt() == 0, run.output
    assert "stopping once the part being started is up" in run.output
    assert "Press Ctrl-C" not in run.output
    left = processes_marked(run.state_dir)
    assert not left, f"processes left behind: {left}\n{run.output}"
    port = int(dev_env["TENANTRY_DEV_TEMPORAL_PORT"])
    assert not port_in_use("127.0.0.1", port)


def test_port_taken_during_start_up_is_reported_and_started_parts_stop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A port free at the first check but taken before its part starts: same one line."""
    settings = DevStackSettings(
        state_dir=tmp_path / "state",
        temporal_port=free_port(),
        temporal_ui_port=free_port(),
        moto_port=free_port(),
    )

    class Squatter:
        def __init__(self) -> None:
            self.sock = socket.socket()
            self.sock.bind(("127.0.0.1", settings.moto_port))
            self.sock.listen()

        def stop(self) -> None:
            self.sock.close()

    squatters: list[Squatter] = []

    def squat(ctx: DevContext) -> Squatter:
        squatters.append(Squatter())
        return squatters[-1]

    by_name = {p.name: p for p in core_parts()}
    parts = [by_name["temporal"], DevPart("squat", "squatter", squat), by_name["moto"]]
    stack = DevStack(settings, parts)
    assert stack.run() == 1
    err = capsys.readouterr().err
    assert err.strip() == (
        f"tenantry dev: port {settings.moto_port} (moto) on 127.0.0.1 is already in use; "
        "stop what listens there or set TENANTRY_DEV_MOTO_PORT"
    )
    assert squatters and squatters[0].sock.fileno() == -1  # stopped
    assert not port_in_use("127.0.0.1", settings.temporal_port)
