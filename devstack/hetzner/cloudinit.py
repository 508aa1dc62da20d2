"""The part of cloud-init that the product relies on, applied to a server's root directory.

Honoured: ``ssh_keys`` (host keys, so the workflow can pin them instead of trusting on
first use), ``ssh_authorized_keys`` (root's keys), ``write_files``, and whether
``runcmd`` starts the tenant stack (``tenantry-stack start``). Files land under
the server's own root directory, never in the machine's real ``/``.
"""

from __future__ import annotations

import base64
import gzip
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml


class CloudInitError(ValueError):
    """User data that cloud-init would refuse (the server still boots, as on Hetzner)."""


@dataclass
class WriteFile:
    path: str
    content: bytes
    permissions: int = 0o644
    append: bool = False


@dataclass
class CloudConfig:
    host_keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    authorized_keys: list[str] = field(default_factory=list)
    write_files: list[WriteFile] = field(default_factory=list)
    # None: no ``runcmd`` given. The stack runs after first boot unless a ``runcmd``
    # is given that does not start it (a warm pool server only pulls its image).
    runcmd: list[list[str]] | None = None

    @property
    def starts_stack(self) -> bool:
        return self.runcmd is None or ["tenantry-stack", "start"] in self.runcmd


def parse(user_data: str | None) -> CloudConfig:
    """Reads ``#cloud-config`` user data; anything else (scripts, empty) configures nothing."""
    if not user_data or not user_data.lstrip().startswith("#cloud-config"):
        return CloudConfig()
    try:
        doc = yaml.safe_load(user_data)
    except yaml.YAMLError as exc:
        raise CloudInitError(f"user_data is not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        return CloudConfig()
    return CloudConfig(
        host_keys=_host_keys(doc.get("ssh_keys") or {}),
        authorized_keys=[str(k).strip() for k in doc.get("ssh_authorized_keys") or []],
        write_files=[_write_file(f) for f in doc.get("write_files") or []],
        runcmd=_runcmd(doc["runcmd"]) if "runcmd" in doc else None,
    )


def _runcmd(raw: Any) -> list[list[str]]:
    if not isinstance(raw, list):
        raise CloudInitError("runcmd must be a list")
    return [[str(a) for a in c] if isinstance(c, list) else str(c).split() for c in raw]


def _host_keys(raw: Any) -> dict[str, tuple[str, str]]:
    if not isinstance(raw, dict):
        raise CloudInitError("ssh_keys must be a mapping")
    keys: dict[str, tuple[str, str]] = {}
    for kind in ("ed25519", "ecdsa", "rsa"):
        private, public = raw.get(f"{kind}_private"), raw.get(f"{kind}_public")
        if private and public:
            keys[kind] = (str(private), str(public).strip())
    return keys


def _write_file(raw: Any) -> WriteFile:
    if not isinstance(raw, dict) or not raw.get("path"):
        raise CloudInitError("write_files entries need a path")
    content = raw.get("content", "")
    data = content.encode() if isinstance(content, str) else bytes(content)
    encoding = str(raw.get("encoding", "text")).lower()
    if encoding in ("b64", "base64"):
        data = base64.b64decode(data)
    elif encoding in ("gz+b64", "gzip+base64", "gz+base64", "gzip+b64"):
        data = gzip.decompress(base64.b64decode(data))
    elif encoding in ("gz", "gzip"):
        data = gzip.decompress(data)
    elif encoding not in ("text", "plain", "text/plain"):
        raise CloudInitError(f"unknown write_files encoding {encoding!r}")
    permissions = raw.get("permissions", "0644")
    return WriteFile(
        path=str(raw["path"]),
        content=data,
        permissions=int(str(permissions), 8),
        append=bool(raw.get("append", False)),
    )


def inside(root: Path, path: str) -> Path:
    """Maps an absolute server path into ``root``; refuses anything that would escape it."""
    parts = PurePosixPath("/", path).parts[1:]
    if any(p == ".." for p in parts):
        raise CloudInitError(f"path {path!r} leaves the server root")
    return root.joinpath(*parts)


def apply_files(config: CloudConfig, root: Path) -> None:
    """Runs ``write_files`` against the server's root directory."""
    for item in config.write_files:
        target = inside(root, item.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("ab" if item.append else "wb") as fh:
            fh.write(item.content)
        target.chmod(item.permissions)
