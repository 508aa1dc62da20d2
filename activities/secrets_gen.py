"""A tenant's secrets, generated once and kept encrypted in the database.

The SSH host key is ours, not the server's: cloud-init installs it, so the control plane
knows the key before the server exists and never trusts on first use.
"""

from __future__ import annotations

import secrets

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)


def ed25519_keypair(comment: str) -> tuple[str, str]:
    """(OpenSSH private key, `ssh-ed25519 AAAA... comment` public line)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()).decode()
    public = key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    return private, f"{public} {comment}"


def new_tenant_secrets(subdomain: str) -> dict[str, str]:
    private, public = ed25519_keypair(f"tenant-{subdomain}")
    return {
        "db_password": secrets.token_urlsafe(24),
        "encryption_key": secrets.token_urlsafe(32),
        "auth_secret": secrets.token_urlsafe(32),
        "ssh_host_private_key": private,
        "ssh_host_public_key": public,
    }
