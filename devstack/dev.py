"""`tenantry dev`: the whole system on one machine, from real parts, stopped cleanly.

The stack is an ordered list of `DevPart`s (the CONTRACT's local-stack table). Each part
is started only when it exists in this checkout, must be healthy before a deadline, and
logs to ``<state>/logs/<part>.log``. Ports come from `DevStackSettings`
(``TENANTRY_DEV_*``) and are all checked before anything starts, so a port in use costs
one clear line and no cleanup. Ctrl-C or SIGTERM stops what was started in reverse
order, by process group, and leaves nothing running.

State lives in the state dir (``.tenantry/``) so that a second run continues where the
first stopped: the Temporal database file, the PostgreSQL data dir, kept mail, the
emulators' state, moto's buckets and records (saved to ``aws/`` on stop, since moto
forgets them), the control plane's SSH key, and the generated dev secrets in ``dev.env``
(written once). ``TENANTRY_DEV_SKIP=worker`` leaves a part out, e.g. to run it in a
debugger against the rest; ``dev.json`` lists what runs (PIDs, ports, URLs).

Plugging in a part (pod hosts with dockerd and sshd, Caddy, ...): give the module a
``dev_parts() -> list[DevPart]`` function and list the module in `PLUGIN_MODULES`; its
parts start after the emulators and before the migration, the API and the worker (or
after them, with ``after_app=True``), and can add ``TENANTRY_*`` variables for those to
``ctx.env`` and URLs to ``ctx.urls``.
Start long-running children with ``ctx.spawn(ctx.process(...))`` so the stack watches
them and still stops them when start-up fails or is aborted half-way.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol

from devstack.config import DevStackSettings
from devstack.procs import ManagedProcess, StackError, http_ready, port_in_use

if TYPE_CHECKING:
    from tenantry.settings import CoreSettings

# Modules that may contribute parts through `dev_parts()`; absent ones are skipped.
PLUGIN_MODULES: list[str] = ["devstack.docker", "devstack.podhost", "devstack.caddy"]

DEV_ENV_FILE = "dev.env"
STATE_FILE = "dev.json"


class Stoppable(Protocol):
    def stop(self) -> None: ...


@dataclass
class DevContext:
    """What parts share while the stack comes up."""

    settings: DevStackSettings
    # TENANTRY_* variables for the API, the worker, migrations and the emulators.
    env: dict[str, str] = field(default_factory=dict)
    # (label, url) lines printed once everything is up.
    urls: list[tuple[str, str]] = field(default_factory=list)
    # Children whose unexpected exit ends `tenantry dev` (the long-running ones).
    watched: dict[str, ManagedProcess] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return self.settings.host

    @property
    def state_dir(self) -> Path:
        return self.settings.state_path

    def log_path(self, part: str) -> Path:
        """The part's log file, with a header so that runs can be told apart."""
        path = self.settings.log_path(part)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as log:
            log.write(f"\n===== tenantry dev: {part} starting {datetime.now(UTC).isoformat()}\n")
        return path

    def spawn(self, process: ManagedProcess) -> ManagedProcess:
        """Starts a long-running child that the stack watches while it runs.

        It is registered before it starts, so that a failure or an abort during its
        readiness wait still stops it.
        """
        self.watched[process.name] = process
        return process.start()

    def process(
        self,
        name: str,
        argv: Sequence[str],
        *,
        ready: Callable[[], bool] | None,
        env: dict[str, str] | None = None,
    ) -> ManagedProcess:
        """A child process with the stack's env and the part's log file."""
        return ManagedProcess(
            name=name,
            argv=argv,
            log_path=self.log_path(name),
            ready=ready,
            env={**self.env, **(env or {})},
            ready_timeout=self.settings.ready_timeout,
        )


@dataclass(frozen=True)
class DevPart:
    """One part of the local stack.

    ``start`` brings it up (healthy) and returns what stops it; ``ports`` names the
    `DevStackSettings` fields it binds; ``skip`` says why it is not started this time
    (None: start it). A plugin's part with ``after_app`` starts after the API and the
    worker (a host agent needs the API), and so stops before them.
    """

    name: str
    label: str
    start: Callable[[DevContext], Stoppable | None]
    ports: tuple[str, ...] = ()
    skip: Callable[[DevContext], str | None] = lambda ctx: None
    after_app: bool = False


# --- helpers ----------------------------------------------------------------------------


def module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _missing(*modules: str) -> Callable[[DevContext], str | None]:
    def skip(ctx: DevContext) -> str | None:
        absent = [m for m in modules if not module_exists(m)]
        return f"{', '.join(absent)} not in this checkout" if absent else None

    return skip


def tenantry_argv(*args: str) -> list[str]:
    """Runs the `tenantry` CLI of this very environment (not whatever is on PATH)."""
    script = Path(sys.executable).parent / "tenantry"
    if script.is_file():
        return [str(script), *args]
    return [sys.executable, "-c", "from tenantry.cli.main import app; app()", *args]


def load_dev_secrets(state_dir: Path) -> dict[str, str]:
    """Secrets generated on the first run and kept in ``dev.env``, so later runs match.

    A variable already set in the environment wins over the file.
    """
    path = state_dir / DEV_ENV_FILE
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not line.lstrip().startswith("#"):
                values[key.strip()] = value.strip()

    from cryptography.fernet import Fernet

    generators: dict[str, Callable[[], str]] = {
        "TENANTRY_ADMIN_TOKEN": lambda: "dev-admin-" + secrets.token_urlsafe(24),
        "TENANTRY_EDGE_TOKEN": lambda: "dev-edge-" + secrets.token_urlsafe(24),
        "TENANTRY_ENCRYPTION_KEY": lambda: Fernet.generate_key().decode(),
        "TENANTRY_STATUS_TOKEN_KEY": lambda: "dev-status-" + secrets.token_urlsafe(24),
    }
    missing = {k: gen() for k, gen in generators.items() if k not in values}
    if missing:
        state_dir.mkdir(parents=True, exist_ok=True)
        new = not path.exists()
        with path.open("a") as f:
            if new:
                f.write("# Generated once by `tenantry dev`; delete to get new secrets.\n")
            f.writelines(f"{k}={v}\n" for k, v in missing.items())
        path.chmod(0o600)
        values.update(missing)
    return {k: os.environ.get(k, v) for k, v in values.items()}


def ensure_ssh_key(key_path: Path) -> Path:
    """The control plane's SSH key (ed25519, OpenSSH format), generated on the first run.

    The worker signs in to pod hosts and tenant servers with it; the Hetzner emulator and
    the pod hosts authorise its public half.
    """
    public_path = key_path.with_name(key_path.name + ".pub")
    if key_path.exists() and public_path.exists():
        return key_path
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    key_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.parent.chmod(0o700)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    key_path.touch(mode=0o600)
    key_path.write_bytes(private)
    public_path.write_bytes(public + b" tenantry-dev-control-plane\n")
    return key_path


# --- the parts ----------------------------------------------------------------------------


def _start_temporal(ctx: DevContext) -> Stoppable:
    from devstack.temporal import temporal_process

    s = ctx.settings
    process = temporal_process(
        host=s.host,
        port=s.temporal_port,
        ui_port=s.temporal_ui_port,
        db_path=ctx.state_dir / "temporal.db",
        log_path=ctx.log_path("temporal"),
        ready_timeout=s.ready_timeout,
    )
    ctx.spawn(process)
    ctx.env["TENANTRY_TEMPORAL_ADDRESS"] = f"{s.host}:{s.temporal_port}"
    ctx.urls.append(("Temporal UI", f"http://{s.host}:{s.temporal_ui_port}"))
    ctx.urls.append(("Temporal (gRPC)", f"{s.host}:{s.temporal_port}"))
    return process


def _external_database(ctx: DevContext) -> str | None:
    if os.environ.get("TENANTRY_DATABASE_URL"):
        return "TENANTRY_DATABASE_URL is set: using that server"
    return _missing("devstack.postgres")(ctx)


def _start_postgres(ctx: DevContext) -> Stoppable:
    from devstack.postgres import PostgresServer

    s = ctx.settings
    server = PostgresServer(
        data_dir=ctx.state_dir / "postgres",
        host=s.host,
        port=s.postgres_port,
        log_path=ctx.log_path("postgres"),
        ready_timeout=s.ready_timeout,
    )
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    ctx.env["TENANTRY_DATABASE_URL"] = server.url()
    ctx.urls.append(("PostgreSQL", server.url()))
    return server


@dataclass
class _MotoPart:
    """moto plus its saved state: loaded at start, saved again before it stops."""

    process: ManagedProcess
    url: str
    state_dir: Path

    def aws_settings(self) -> CoreSettings:
        from tenantry.settings import CoreSettings

        return CoreSettings(env="dev", route53_endpoint=self.url, s3_endpoint=self.url)

    def stop(self) -> None:
        from devstack.moto import export_state

        if self.process.running:
            try:
                export_state(self.aws_settings(), self.state_dir)
            except Exception as exc:  # saving is best effort: never block the stop
                print(f"tenantry dev: could not save moto's state: {exc}", file=sys.stderr)
        self.process.stop()


def _start_moto(ctx: DevContext) -> Stoppable:
    from devstack.moto import ensure_aws_resources, import_state, moto_process

    s = ctx.settings
    process = moto_process(
        host=s.host, port=s.moto_port, log_path=ctx.log_path("moto"), ready_timeout=s.ready_timeout
    )
    url = f"http://{s.host}:{s.moto_port}"
    part = _MotoPart(process, url, ctx.state_dir / "aws")
    ctx.spawn(process)
    ctx.env["TENANTRY_ROUTE53_ENDPOINT"] = url
    ctx.env["TENANTRY_S3_ENDPOINT"] = url
    try:
        import_state(part.aws_settings(), part.state_dir)
        zone_id = ensure_aws_resources(part.aws_settings())
    except Exception as exc:  # boto3 raises many kinds; all mean the same here
        process.stop()
        raise StackError(f"moto: could not create the hosted zone and bucket: {exc}") from exc
    ctx.env["TENANTRY_ROUTE53_HOSTED_ZONE_ID"] = zone_id
    ctx.urls.append(("Route53 + S3 (moto)", f"{url}  (dashboard {url}/moto-api/)"))
    return part


def _start_smtp(ctx: DevContext) -> Stoppable:
    from devstack.smtp import smtp_process

    s = ctx.settings
    process = smtp_process(
        host=s.host,
        smtp_port=s.smtp_port,
        api_port=s.mail_api_port,
        mail_dir=ctx.state_dir / "mail",
        log_path=ctx.log_path("smtp"),
        ready_timeout=s.ready_timeout,
    )
    ctx.spawn(process)
    ctx.env["TENANTRY_SMTP_URL"] = f"smtp://{s.host}:{s.smtp_port}"
    ctx.urls.append(("SMTP", f"smtp://{s.host}:{s.smtp_port}"))
    ctx.urls.append(("Mail (JSON)", f"http://{s.host}:{s.mail_api_port}/messages"))
    return process


def _any_http_answer(url: str) -> Callable[[], bool]:
    return http_ready(url, accept=lambda status: status < 500)


def _start_hetzner(ctx: DevContext) -> Stoppable:
    from tenantry.settings import CoreSettings

    s = ctx.settings
    token = CoreSettings(env="dev").hetzner_token.get_secret_value()
    argv = [sys.executable, "-m", "devstack.hetzner", "--host", s.host]
    argv += ["--port", str(s.hetzner_port), "--state-dir", str(ctx.state_dir / "hetzner")]
    argv += ["--token", token, "--persist", "--network", s.hetzner_network]
    ready = _any_http_answer(f"http://{s.host}:{s.hetzner_port}/")
    ctx.spawn(ctx.process("hetzner", argv, ready=ready))
    ctx.env["TENANTRY_HETZNER_ENDPOINT"] = f"http://{s.host}:{s.hetzner_port}/v1"
    ctx.urls.append(("Hetzner API", f"http://{s.host}:{s.hetzner_port}/v1"))
    return ctx.watched["hetzner"]


def register_stripe_webhook(api_base: str, api_key: str, url: str) -> str:
    """Points the Stripe emulator's webhooks at our API; returns the signing secret.

    Stripe shows an endpoint's secret only when it is created, so an endpoint left by an
    earlier run for the same URL is replaced rather than reused.
    """
    import httpx

    with httpx.Client(
        base_url=api_base, headers={"Authorization": f"Bearer {api_key}"}, timeout=10
    ) as http:
        listing = http.get("/v1/webhook_endpoints", params={"limit": 100})
        listing.raise_for_status()
        for endpoint in listing.json().get("data", []):
            if endpoint.get("url") == url:
                http.delete(f"/v1/webhook_endpoints/{endpoint['id']}").raise_for_status()
        created = http.post(
            "/v1/webhook_endpoints",
            data={"url": url, "enabled_events[]": "*", "description": "tenantry dev"},
        )
        created.raise_for_status()
        return str(created.json()["secret"])


def _start_stripe(ctx: DevContext) -> Stoppable:
    from tenantry.settings import CoreSettings

    s = ctx.settings
    base = f"http://{s.host}:{s.stripe_port}"
    argv = [sys.executable, "-m", "devstack.stripe", "--host", s.host, "--port", str(s.stripe_port)]
    argv += ["--state-file", str(ctx.state_dir / "stripe.json")]
    process = ctx.spawn(ctx.process("stripe", argv, ready=_any_http_answer(f"{base}/")))
    ctx.env["TENANTRY_STRIPE_API_BASE"] = base
    api_key = CoreSettings(env="dev").stripe_api_key.get_secret_value()
    webhook_url = f"http://{s.host}:{s.api_port}/v1/stripe/webhook"
    try:
        secret = register_stripe_webhook(base, api_key, webhook_url)
    except Exception as exc:  # any failure here means webhooks would never verify
        raise StackError(f"stripe: could not register the webhook endpoint: {exc}") from exc
    ctx.env["TENANTRY_STRIPE_WEBHOOK_SECRET"] = secret
    ctx.urls.append(("Stripe API", base))
    ctx.urls.append(("Stripe webhooks", f"-> {webhook_url}"))
    return process


def _no_database(ctx: DevContext) -> str | None:
    """Why there is no database for our processes (same answer before and after start)."""
    if os.environ.get("TENANTRY_DATABASE_URL") or module_exists("devstack.postgres"):
        return None
    return "no database (no devstack.postgres and TENANTRY_DATABASE_URL is unset)"


def _first(*checks: Callable[[DevContext], str | None]) -> Callable[[DevContext], str | None]:
    def skip(ctx: DevContext) -> str | None:
        return next((reason for check in checks if (reason := check(ctx))), None)

    return skip


def _migrate(ctx: DevContext) -> None:
    log_path = ctx.log_path("migrate")
    with log_path.open("ab") as log:
        try:
            result = subprocess.run(
                tenantry_argv("migrate"),
                env={**os.environ, **ctx.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Its own session: a terminal's Ctrl-C is ours to handle, not the child's.
                start_new_session=True,
                timeout=ctx.settings.ready_timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise StackError(f"migrate: did not finish in time; see {log_path}") from None
    if result.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
        raise StackError(f"migrate: failed (exit {result.returncode}); see {log_path}:\n{tail}")


def _start_api(ctx: DevContext) -> Stoppable:
    s = ctx.settings
    base = f"http://{s.host}:{s.api_port}"
    process = ctx.process(
        "api",
        tenantry_argv("api"),
        ready=http_ready(f"{base}/readyz", accept=lambda status: status == 200),
        env={"TENANTRY_API_HOST": s.host, "TENANTRY_API_PORT": str(s.api_port)},
    )
    ctx.spawn(process)
    ctx.urls.append(("API", base))
    ctx.urls.append(("API docs", f"{base}/docs"))
    return process


def worker_polling(address: str, task_queue: str, pid: int) -> bool:
    """True when the worker process `pid` polls `task_queue` (its identity is pid@host)."""
    from devstack.temporal import temporal_binary

    try:
        result = subprocess.run(
            [
                str(temporal_binary()),
                "task-queue",
                "describe",
                "--address",
                address,
                "--task-queue",
                task_queue,
                "--disable-stats",
                "-o",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (subprocess.TimeoutExpired, OSError):
        return False
    return result.returncode == 0 and f'"{pid}@' in result.stdout


def _start_worker(ctx: DevContext) -> Stoppable:
    from tenantry.settings import CoreSettings

    task_queue = CoreSettings(env="dev").task_queue
    address = ctx.env.get("TENANTRY_TEMPORAL_ADDRESS", "")
    holder: dict[str, ManagedProcess] = {}

    def ready() -> bool:
        proc = holder["process"].proc
        return proc is not None and worker_polling(address, task_queue, proc.pid)

    process = ctx.process("worker", tenantry_argv("worker"), ready=ready)
    holder["process"] = process
    ctx.spawn(process)
    ctx.urls.append(("Worker", f"polling task queue {task_queue!r}"))
    return process


def core_parts() -> list[DevPart]:
    """The infrastructure parts, in start order (the CONTRACT's local-stack table)."""
    return [
        DevPart("temporal", "Temporal", _start_temporal, ("temporal_port", "temporal_ui_port")),
        DevPart(
            "postgres", "PostgreSQL", _start_postgres, ("postgres_port",), skip=_external_database
        ),
        DevPart("moto", "moto", _start_moto, ("moto_port",)),
        DevPart("smtp", "mail sink", _start_smtp, ("smtp_port", "mail_api_port")),
        DevPart(
            "hetzner",
            "Hetzner emulator",
            _start_hetzner,
            ("hetzner_port",),
            skip=_missing("devstack.hetzner.__main__"),
        ),
        DevPart(
            "stripe",
            "Stripe emulator",
            _start_stripe,
            ("stripe_port",),
            skip=_missing("devstack.stripe.__main__"),
        ),
    ]


def app_parts() -> list[DevPart]:
    """Our own processes, last: they need everything above."""
    return [
        DevPart(
            "migrate", "migrations", _migrate, skip=_first(_missing("db.migrate"), _no_database)
        ),
        DevPart(
            "api",
            "API",
            _start_api,
            ("api_port",),
            skip=_first(_missing("api.serve"), _no_database),
        ),
        DevPart(
            "worker",
            "worker",
            _start_worker,
            skip=_first(_missing("worker.main"), _no_database),
        ),
    ]


def plugin_parts() -> list[DevPart]:
    """Parts other modules contribute (see the module docstring)."""
    parts: list[DevPart] = []
    for name in PLUGIN_MODULES:
        if not module_exists(name):
            continue
        module = importlib.import_module(name)
        factory = getattr(module, "dev_parts", None)
        if callable(factory):
            parts.extend(factory())
    return parts


def default_parts() -> list[DevPart]:
    plugins = plugin_parts()
    late = [p for p in plugins if p.after_app]
    return [*core_parts(), *(p for p in plugins if not p.after_app), *app_parts(), *late]


# --- running the stack ------------------------------------------------------------------


class Shutdown(BaseException):
    """Ctrl-C or SIGTERM: stop everything (a BaseException so no `except Exception` eats it)."""


def port_conflicts(parts: Sequence[DevPart], ctx: DevContext) -> list[str]:
    """One line per port that a part needs and something else already holds."""
    lines = []
    for part in parts:
        for field_name in part.ports:
            port = getattr(ctx.settings, field_name)
            if port_in_use(ctx.host, port):
                lines.append(
                    f"tenantry dev: port {port} ({part.label}) on {ctx.host} is already in use; "
                    f"stop what listens there or set TENANTRY_DEV_{field_name.upper()}"
                )
    return lines


def _say(text: str) -> None:
    print(text, flush=True)


class DevStack:
    """Starts parts in order and stops the started ones in reverse order."""

    def __init__(self, settings: DevStackSettings, parts: Sequence[DevPart]) -> None:
        self.ctx = DevContext(settings)
        self.parts = list(parts)
        self.started: list[tuple[DevPart, Stoppable]] = []
        self._deferring = False
        self._pending_signal: int | None = None

    # Signals: while a part starts, the first Ctrl-C waits for it (so that what it started
    # is known and can be stopped); a second one aborts at once.
    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._deferring and self._pending_signal is None:
            self._pending_signal = signum
            _say("tenantry dev: stopping once the part being started is up (again: abort now)")
            return
        raise Shutdown(signum)

    @contextlib.contextmanager
    def _deferred_signals(self) -> Iterator[None]:
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
        if self._pending_signal is not None:
            raise Shutdown(self._pending_signal)

    def run(self) -> int:
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            return self._run()
        except Shutdown:
            return 0
        except StackError as exc:
            print(f"tenantry dev: {exc}", file=sys.stderr, flush=True)
            return 1
        finally:
            # Stopping is not interruptible: a half-stopped stack is what we must avoid.
            for sig in previous:
                signal.signal(sig, signal.SIG_IGN)
            self.stop_all()
            (self.ctx.state_dir / STATE_FILE).unlink(missing_ok=True)
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _run(self) -> int:
        ctx = self.ctx
        conflicts = port_conflicts([p for p in self.parts if self._skip_reason(p) is None], ctx)
        if conflicts:
            for line in conflicts:
                print(line, file=sys.stderr, flush=True)
            return 1
        ctx.state_dir.mkdir(parents=True, exist_ok=True)
        ctx.env.update(self._base_env())
        _say(f"tenantry dev: state in {ctx.state_dir}, logs in {ctx.settings.logs_dir}")
        for part in self.parts:
            reason = self._skip_reason(part)
            if reason is not None:
                _say(f"  - {part.label:<20} skipped: {reason}")
                continue
            # Checked again just before: an earlier part (or anything else) may have taken it.
            conflicts = port_conflicts([part], ctx)
            if conflicts:
                print(conflicts[0], file=sys.stderr, flush=True)
                return 1
            began = time.monotonic()
            with self._deferred_signals():
                stoppable = self._start_part(part)
                if stoppable is not None:
                    self.started.append((part, stoppable))
            _say(f"  + {part.label:<20} ready in {time.monotonic() - began:.1f}s")
        self._write_state()
        self._print_banner()
        return self._watch()

    def _start_part(self, part: DevPart) -> Stoppable | None:
        """Starts one part; if it fails or is aborted, stops the processes it had spawned."""
        before = set(self.ctx.watched)
        try:
            return part.start(self.ctx)
        except BaseException:
            for name in reversed([n for n in self.ctx.watched if n not in before]):
                process = self.ctx.watched.pop(name)
                try:
                    process.stop()
                except Exception as exc:  # keep going: the rest must stop too
                    print(f"tenantry dev: stopping {name} failed: {exc}", file=sys.stderr)
            raise

    def _skip_reason(self, part: DevPart) -> str | None:
        if part.name in self.ctx.settings.skipped_parts:
            return "TENANTRY_DEV_SKIP names it"
        return part.skip(self.ctx)

    def _base_env(self) -> dict[str, str]:
        ctx = self.ctx
        ssh_dir = ctx.state_dir / "ssh"
        if "TENANTRY_SSH_KEY_PATH" not in os.environ:
            ensure_ssh_key(ssh_dir / "id_ed25519")
            (ssh_dir / "known_hosts").touch(mode=0o600)
        return {
            "TENANTRY_ENV": "dev",
            "TENANTRY_STATE_DIR": str(ctx.state_dir),
            "TENANTRY_PUBLIC_URL": os.environ.get(
                "TENANTRY_PUBLIC_URL", f"http://{ctx.host}:{ctx.settings.api_port}"
            ),
            "TENANTRY_SSH_KEY_PATH": os.environ.get(
                "TENANTRY_SSH_KEY_PATH", str(ssh_dir / "id_ed25519")
            ),
            "TENANTRY_SSH_KNOWN_HOSTS_PATH": os.environ.get(
                "TENANTRY_SSH_KNOWN_HOSTS_PATH", str(ssh_dir / "known_hosts")
            ),
            **load_dev_secrets(ctx.state_dir),
        }

    def _watch(self) -> int:
        """Waits for Ctrl-C; a child that exits on its own ends the stack (exit 1)."""
        while True:
            time.sleep(0.5)
            for name, process in self.ctx.watched.items():
                if not process.running:
                    code = process.proc.returncode if process.proc else None
                    print(
                        f"tenantry dev: {name} exited on its own (code {code}); "
                        f"see {process.log_path}:\n{process.log_tail()}",
                        file=sys.stderr,
                        flush=True,
                    )
                    return 1

    def stop_all(self) -> None:
        while self.started:
            part, stoppable = self.started.pop()
            try:
                stoppable.stop()
            except Exception as exc:  # keep stopping the rest whatever went wrong here
                print(f"tenantry dev: stopping {part.name} failed: {exc}", file=sys.stderr)
        self.ctx.watched.clear()

    def _write_state(self) -> None:
        """``dev.json``: what runs now (PIDs, ports, URLs), for tools and tests; removed on stop."""
        ctx = self.ctx
        processes: dict[str, Any] = {}
        for part, stoppable in self.started:
            # A ManagedProcess, or a launcher that wraps one (PostgresServer).
            inner = getattr(stoppable, "_process", getattr(stoppable, "process", stoppable))
            proc = getattr(inner, "proc", None)
            if isinstance(proc, subprocess.Popen):
                processes[part.name] = {"pid": proc.pid}
        ports = {
            name: getattr(ctx.settings, name)
            for part in self.parts
            if self._skip_reason(part) is None
            for name in part.ports
        }
        state = {
            "pid": os.getpid(),
            "host": ctx.host,
            "processes": processes,
            "ports": ports,
            "urls": dict(ctx.urls),
            "api_url": f"http://{ctx.host}:{ctx.settings.api_port}",
        }
        (ctx.state_dir / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")

    def _print_banner(self) -> None:
        ctx = self.ctx
        width = max((len(label) for label, _ in ctx.urls), default=10) + 2
        lines = ["", "Tenantry dev stack is up:"]
        lines += [f"  {label:<{width}} {url}" for label, url in ctx.urls]
        lines.append(f"  {'admin token':<{width}} {ctx.env.get('TENANTRY_ADMIN_TOKEN', '')}")
        lines.append(f"  {'secrets':<{width}} {ctx.state_dir / DEV_ENV_FILE}")
        lines.append(f"  {'logs':<{width}} {ctx.settings.logs_dir}")
        lines.append("Press Ctrl-C to stop everything.")
        _say("\n".join(lines))


def run_dev() -> int:
    """Entry point of `tenantry dev`: 0 after Ctrl-C, 1 when a part failed or a port is taken."""
    try:
        settings = DevStackSettings()
    except ValueError as exc:
        print(f"tenantry dev: bad TENANTRY_DEV_* setting: {exc}", file=sys.stderr)
        return 2
    return DevStack(settings, default_parts()).run()
