"""The pod base image, built on this machine: no registry is reachable, and none is needed.

The root filesystem is Debian's static busybox plus its applet symlinks, which gives a
pod a shell, coreutils and tar, and ``httpd``, the tiny HTTP service that proves routing
to a pod works (it serves the workspace on port 8080). The tar stream for
``docker import`` is written in memory with ``tarfile`` rather than from a directory on
disk, so every entry is owned by root whoever builds it, and nothing is left to clean up.
Building is idempotent: an image that exists is kept.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import time
from pathlib import Path

from devstack.docker import docker_cli
from devstack.procs import StackError

POD_BASE_IMAGE = "tenantry/pod-base:1"
POD_HTTP_PORT = 8080
BUSYBOX = Path("/bin/busybox")

# What `docker import -c` bakes into the image config. User state lives in /workspace
# (the only thing a snapshot keeps), so HOME points there too: dotfiles survive hibernation.
IMAGE_CHANGES = [
    'CMD ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/workspace"]',
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV HOME=/workspace",
    "WORKDIR /workspace",
    f"EXPOSE {POD_HTTP_PORT}",
]

_FILES: dict[str, bytes] = {
    "etc/passwd": b"root:x:0:0:root:/workspace:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    "etc/group": b"root:x:0:\nnogroup:x:65534:\n",
    "etc/hostname": b"pod\n",
    "workspace/index.html": b"<!doctype html><title>pod</title><p>Your pod is running.</p>\n",
}
_DIRS = {
    "bin": 0o755,
    "sbin": 0o755,
    "usr/bin": 0o755,
    "usr/sbin": 0o755,
    "etc": 0o755,
    "tmp": 0o1777,
    "workspace": 0o755,
    "proc": 0o555,
    "sys": 0o555,
    "dev": 0o755,
    "var/www": 0o755,
    "root": 0o700,
}


def _applets() -> list[str]:
    """Paths of busybox applets as busybox itself installs them (``usr/bin/tar``, ...)."""
    out = subprocess.run(
        [str(BUSYBOX), "--list-full"], capture_output=True, text=True, check=True
    ).stdout
    return [line for line in out.split() if line and line != "bin/busybox"]


def rootfs_tar() -> bytes:
    """The pod base image's root filesystem as an uncompressed tar (about 2 MB)."""
    if not BUSYBOX.exists():
        raise StackError(f"{BUSYBOX} is missing: install Debian's busybox-static")
    now = int(time.time())
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:

        def entry(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = kind, mode, now
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            return info

        for path, mode in sorted(_DIRS.items()):
            tar.addfile(entry(path, tarfile.DIRTYPE, mode))
        binary = BUSYBOX.read_bytes()
        info = entry("bin/busybox", tarfile.REGTYPE, 0o755)
        info.size = len(binary)
        tar.addfile(info, io.BytesIO(binary))
        for applet in _applets():
            link = entry(applet, tarfile.SYMTYPE, 0o777)
            link.linkname = "/bin/busybox"
            tar.addfile(link)
        for path, content in _FILES.items():
            info = entry(path, tarfile.REGTYPE, 0o644)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def image_exists(docker_host: str, image: str) -> bool:
    try:
        docker_cli(docker_host, "image", "inspect", "--format", "{{.Id}}", image)
    except StackError:
        return False
    return True


def ensure_pod_base_image(docker_host: str, image: str = POD_BASE_IMAGE) -> str:
    """Builds the pod base image into the daemon at ``docker_host`` unless it is there."""
    if image_exists(docker_host, image):
        return image
    changes = [arg for change in IMAGE_CHANGES for arg in ("-c", change)]
    docker_cli(docker_host, "import", *changes, "-", image, input=rootfs_tar(), timeout=120)
    return image
