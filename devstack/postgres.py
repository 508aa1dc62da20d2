"""A real PostgreSQL server for `tenantry dev` and the tests.

The server runs from the machine's PostgreSQL binaries (Debian's `postgresql` package, or
any install that `pg_config` knows) with its state in one data directory: the first start
runs `initdb`, later starts reuse what is there. PostgreSQL refuses to run as root, so as
root every server command runs as the `postgres` user, which then must own the data
directory and be able to traverse every directory above it.

Only loopback is served, with `trust` authentication: this is a developer's database, not
a production one. The bootstrap superuser is the role `tenantry`, so no password or extra
role setup is needed.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from devstack.procs import ManagedProcess, StackError, port_in_use, tcp_ready

ROLE = "tenantry"
DATABASE = "tenantry"
SERVER_USER = "postgres"

# Settings that make a throwaway server fast; a crash may lose its data (tests only).
NON_DURABLE = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def find_bindir() -> Path:
    """The directory holding `initdb` and `postgres`: pg_config first, then Debian's layout."""
    candidates: list[Path] = []
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            out = subprocess.run(
                [pg_config, "--bindir"], check=True, capture_output=True, text=True, timeout=10
            )
            candidates.append(Path(out.stdout.strip()))
    # Newest major version first: `sorted` on the numeric part of the path.
    debian = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += [Path(p) for p in sorted(debian, key=_major_of, reverse=True)]
    if on_path := shutil.which("initdb"):
        candidates.append(Path(on_path).parent)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "postgres").is_file():
            return bindir
    raise StackError(
        "PostgreSQL binaries (initdb, postgres) not found; install Debian's `postgresql` "
        "package (or put pg_config on PATH), or set TENANTRY_DATABASE_URL to use an existing server"
    )


def _major_of(path: str) -> int:
    version = Path(path).parent.name
    return int(version) if version.isdigit() else 0


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (`postgresql+psycopg://...`) as plain libpq understands it."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    return f"{scheme.split('+', 1)[0]}://{rest}"


def with_database(url: str, database: str) -> str:
    """The same server URL, pointed at another database."""
    head, sep, tail = url.rpartition("/")
    if not sep or "://" not in head:
        raise ValueError(f"not a database URL: {url!r}")
    query = tail.partition("?")[2]
    return f"{head}/{database}" + (f"?{query}" if query else "")


def database_exists(admin_url: str, name: str) -> bool:
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        return row is not None


def create_database(admin_url: str, name: str, template: str | None = None) -> None:
    """Create `name` (from `template` if given) unless it exists; `admin_url` may be any db.

    A template must have no other connections while it is copied (PostgreSQL's rule).
    """
    if database_exists(admin_url, name):
        return
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
    # Created concurrently by another process: the outcome is the same.
    with (
        psycopg.connect(libpq_url(admin_url), autocommit=True) as conn,
        contextlib.suppress(psycopg.errors.DuplicateDatabase),
    ):
        conn.execute(statement)


def drop_database(admin_url: str, name: str) -> None:
    """Drop `name` if it exists, ending any sessions still connected to it."""
    statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        conn.execute(statement)


@dataclass
class PostgresServer:
    """One PostgreSQL server on a loopback port, its state in `data_dir`."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 5433
    log_path: Path | None = None
    durable: bool = True
    ready_timeout: float = 30.0

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).absolute()
        if self.log_path is None:
            self.log_path = self.data_dir.with_name(self.data_dir.name + ".log")
        self._bindir: Path | None = None
        self._process: ManagedProcess | None = None

    # -- public interface -------------------------------------------------------------

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql+psycopg://{ROLE}@{self.host}:{self.port}/{database}"

    def start(self) -> None:
        """Initialise the data directory if it is new, start the server, ensure the db."""
        if self.running:
            return
        self._stop_orphan()
        if port_in_use(self.host, self.port):
            raise StackError(
                f"PostgreSQL: port {self.port} on {self.host} is already in use; stop whatever "
                "listens there (another `tenantry dev`?), choose another port, or set "
                "TENANTRY_DATABASE_URL to use that server"
            )
        self._prepare_data_dir()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._refuse_live_postmaster()
        assert self.log_path is not None
        self._process = ManagedProcess(
            name="postgres",
            argv=self._as_server_user(str(self.bindir / "postgres"), *self._server_args()),
            log_path=self.log_path,
            ready=self._accepts_connections,
            ready_timeout=self.ready_timeout,
            # `pg_ctl stop -m fast` runs first; this only reaps what did not stop.
            stop_timeout=10.0,
        ).start()
        create_database(self.url("postgres"), DATABASE)

    def stop(self) -> None:
        """Fast shutdown: roll back open sessions instead of waiting for clients to leave."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.running:
            self._pg_ctl_stop()
        process.stop()

    def create_database(self, name: str, template: str | None = None) -> None:
        create_database(self.url("postgres"), name, template)

    def drop_database(self, name: str) -> None:
        drop_database(self.url("postgres"), name)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    @property
    def bindir(self) -> Path:
        if self._bindir is None:
            self._bindir = find_bindir()
        return self._bindir

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals --------------------------------------------------------------------

    def _server_args(self) -> list[str]:
        settings = {
            "listen_addresses": self.host,
            "port": str(self.port),
            # TCP only: no socket in a system directory that may not exist or be shared.
            "unix_socket_directories": "",
            "logging_collector": "off",
            **({} if self.durable else NON_DURABLE),
        }
        args = ["-D", str(self.data_dir)]
        for key, value in settings.items():
            args += ["-c", f"{key}={value}"]
        return args

    def _initdb(self) -> None:
        argv = self._as_server_user(
            str(self.bindir / "initdb"),
            "-D", str(self.data_dir),
            "-U", ROLE,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            *(["--no-sync"] if not self.durable else []),
        )  # fmt: skip
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise StackError(
                f"PostgreSQL: initdb in {self.data_dir} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}"
            )

    def _prepare_data_dir(self) -> None:
        """Create the data dir owned by the server user, reachable through its parents."""
        fresh = not (self.data_dir / "PG_VERSION").exists()
        if fresh and self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise StackError(
                f"PostgreSQL: {self.data_dir} is neither empty nor a PostgreSQL data "
                "directory; move it away or choose another one"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        user = self._server_user()
        if user is None:
            return
        for parent in _parents_to_traverse(self.data_dir, user):
            # Traverse only (o+x): the server user can reach its directory, list nothing.
            parent.chmod(parent.stat().st_mode | stat.S_IXOTH)
        if self.data_dir.stat().st_uid != user.pw_uid:
            for path in _walk(self.data_dir):
                os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)
        self.data_dir.chmod(0o700)

    def _live_postmaster(self) -> int | None:
        """The pid of a server running on this data dir, if any."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
            with open(f"/proc/{pid}/comm") as comm:
                return pid if comm.read().strip() in {"postgres", "postmaster"} else None
        except (OSError, ValueError, IndexError):
            return None

    def _stop_orphan(self) -> None:
        """Stop a server left running on our data dir by a run that was killed.

        The server lives in its own session, so it outlives a SIGKILLed `tenantry dev`;
        the data dir is ours, so the next run may stop it and start afresh.
        """
        if self._live_postmaster() is not None:
            self._pg_ctl_stop()

    def _pg_ctl_stop(self, timeout: int = 20) -> None:
        """`pg_ctl stop -m fast`: open sessions are rolled back, nothing waits for clients."""
        argv = self._as_server_user(
            str(self.bindir / "pg_ctl"), "stop", "-D", str(self.data_dir),
            "-m", "fast", "-w", "-t", str(timeout),
        )  # fmt: skip
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run(argv, check=False, capture_output=True, timeout=timeout + 10)

    def _refuse_live_postmaster(self) -> None:
        """A server still running on this data dir (another port?) must not be doubled."""
        pid = self._live_postmaster()
        if pid is not None:
            raise StackError(
                f"PostgreSQL: a server (pid {pid}) is already running on {self.data_dir}; "
                "stop it first"
            )

    def _accepts_connections(self) -> bool:
        if not tcp_ready(self.host, self.port)():
            return False
        try:
            with psycopg.connect(libpq_url(self.url("postgres")), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def _server_user(self) -> pwd.struct_passwd | None:
        """The account the server runs as: `postgres` when we are root, else ourselves."""
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam(SERVER_USER)
        except KeyError:
            raise StackError(
                "PostgreSQL refuses to run as root and there is no `postgres` user; "
                "install Debian's `postgresql` package or run as a normal user"
            ) from None

    def _as_server_user(self, *argv: str) -> list[str]:
        if self._server_user() is None:
            return list(argv)
        runuser = shutil.which("runuser") or "/usr/sbin/runuser"
        return [runuser, "-u", SERVER_USER, "--", *argv]


def _parents_to_traverse(path: Path, user: pwd.struct_passwd) -> list[Path]:
    """Directories above `path` that `user` may not enter (missing x for it)."""
    blocked = []
    groups = set(os.getgrouplist(user.pw_name, user.pw_gid))
    for parent in path.parents:
        st = parent.stat()
        if st.st_uid == user.pw_uid:
            ok = bool(st.st_mode & stat.S_IXUSR)
        elif st.st_gid in groups:
            ok = bool(st.st_mode & stat.S_IXGRP)
        else:
            ok = bool(st.st_mode & stat.S_IXOTH)
        if not ok:
            blocked.append(parent)
    return blocked


def _walk(root: Path) -> Iterator[Path]:
    yield root
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            yield Path(dirpath) / name
