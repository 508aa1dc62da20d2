"""The cloud-config that turns a fresh Debian 12 machine into a pod host.

It carries `pod-host-install.sh` (shipped beside this module) and its input: the API URL,
the single-use join token and the control plane's SSH public key. Both files are written
mode 0700/0600 by cloud-init, and the script runs once at first boot (`runcmd`). The
join token is in the cloud-config, so the user data is as secret as the token until the
host registered; a short TTL limits that.
"""

from __future__ import annotations

from importlib.resources import files

import yaml

SCRIPT_PATH = "/usr/local/sbin/tenantry-pod-host-install"
INPUT_PATH = "/etc/tenantry/install.env"


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks, so the script reads as itself in user data."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def install_script() -> str:
    return files("tenantry.agents.host").joinpath("pod-host-install.sh").read_text()


def _env_line(key: str, value: str) -> str:
    if any(c in value for c in "\n\"'\\$`"):
        raise ValueError(f"{key} must be one line without quotes, '$', '`' or backslashes")
    return f"{key}='{value}'\n"


def cloud_config(
    *,
    api_url: str,
    join_token: str,
    ssh_public_key: str,
    address: str | None = None,
    agent_package: str = "tenantry",
) -> str:
    """The `#cloud-config` document (YAML) for one new pod host."""
    key = ssh_public_key.strip()
    if not key.startswith(("ssh-", "ecdsa-")) or len(key.split()) < 2:
        raise ValueError("the control plane's SSH public key must be one OpenSSH key line")
    values = {
        "TENANTRY_API_URL": api_url,
        "TENANTRY_HOST_JOIN_TOKEN": join_token,
        "TENANTRY_CONTROL_PLANE_SSH_KEY": key,
        "TENANTRY_AGENT_PACKAGE": agent_package,
    }
    if address:
        values["TENANTRY_HOST_ADDRESS"] = address
    env = "".join(_env_line(k, v) for k, v in values.items())
    document = {
        "write_files": [
            {
                "path": SCRIPT_PATH,
                "permissions": "0700",
                "owner": "root:root",
                "content": install_script(),
            },
            {"path": INPUT_PATH, "permissions": "0600", "owner": "root:root", "content": env},
        ],
        "runcmd": [["sh", "-c", f"set -a && . {INPUT_PATH} && exec {SCRIPT_PATH}"]],
    }
    body = yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000
    )
    return "#cloud-config\n" + body
