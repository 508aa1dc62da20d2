#!/bin/sh
# Turns a fresh Debian 12 machine into a Tenantry pod host (run as root; cloud-init runs it
# from the cloud-config `tenantry hosts cloud-init` prints).
#
#   Docker, with gVisor's runsc registered as runtime `runsc` (--network=host: gVisor then
#     uses the network namespace Docker made for the container, so Docker networks apply);
#   sshd accepting only the control plane's public key (no passwords);
#   `tenantry host-agent` as a systemd unit, its join token in an EnvironmentFile (0600):
#     the agent spends it once for this host's own credential (0600, /var/lib/tenantry).
#
# Input, from the environment: TENANTRY_API_URL, TENANTRY_HOST_JOIN_TOKEN,
# TENANTRY_CONTROL_PLANE_SSH_KEY (one OpenSSH public key line), TENANTRY_HOST_ADDRESS
# (default: this machine's first address), TENANTRY_AGENT_PACKAGE (pip requirement for the
# agent, default `tenantry`).
# For tests and image builds: TENANTRY_INSTALL_ROOT writes every file under that directory
# instead of /, and TENANTRY_INSTALL_OFFLINE=1 installs no package and starts no service
# (it only writes the configuration).
set -eu

ROOT="${TENANTRY_INSTALL_ROOT:-}"
OFFLINE="${TENANTRY_INSTALL_OFFLINE:-0}"
PACKAGE="${TENANTRY_AGENT_PACKAGE:-tenantry}"
UNIT=tenantry-host-agent.service

die() { echo "pod-host-install: $*" >&2; exit 2; }
say() { echo "pod-host-install: $*"; }

[ -n "${TENANTRY_API_URL:-}" ] || die "TENANTRY_API_URL is required"
[ -n "${TENANTRY_HOST_JOIN_TOKEN:-}" ] || die "TENANTRY_HOST_JOIN_TOKEN is required"
case "${TENANTRY_CONTROL_PLANE_SSH_KEY:-}" in
    ssh-*" "*|ecdsa-*" "*) ;;
    *) die "TENANTRY_CONTROL_PLANE_SSH_KEY must be one OpenSSH public key line" ;;
esac
case "$TENANTRY_API_URL$TENANTRY_HOST_JOIN_TOKEN" in
    *"
"*|*\"*|*\\*) die "the API URL and join token must be single lines without quotes" ;;
esac
ADDRESS="${TENANTRY_HOST_ADDRESS:-}"
if [ -z "$ADDRESS" ]; then
    ADDRESS="$(hostname -I 2>/dev/null | awk '{print $1}')"
    [ -n "$ADDRESS" ] || die "cannot tell this machine's address: set TENANTRY_HOST_ADDRESS"
fi

# Files are created private first, then filled: a secret is never readable by others.
write_file() { # path mode < content
    target="$ROOT$1"
    mkdir -p "$(dirname "$target")"
    (umask 077 && : > "$target")
    chmod "$2" "$target"
    cat > "$target"
}

if [ "$OFFLINE" != 1 ]; then
    say "installing docker.io, runsc, openssh-server, python3-venv"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends \
        docker.io runsc iptables openssh-server python3-venv ca-certificates
fi

say "docker: runtime runsc (--network=host)"
write_file /etc/docker/daemon.json 0644 <<'JSON'
{
  "runtimes": {
    "runsc": {"path": "/usr/bin/runsc", "runtimeArgs": ["--network=host"]}
  },
  "live-restore": true
}
JSON

say "sshd: only the control plane's key, no passwords"
printf '%s\n' "$TENANTRY_CONTROL_PLANE_SSH_KEY" | write_file /etc/ssh/tenantry_authorized_keys 0644
write_file /etc/ssh/sshd_config.d/10-tenantry.conf 0644 <<'CONF'
# Written by the Tenantry pod host install: the control plane's key is the only way in.
AuthorizedKeysFile /etc/ssh/tenantry_authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
CONF

say "host agent: /etc/tenantry/host-agent.env (0600) and $UNIT"
write_file /etc/tenantry/host-agent.env 0600 <<ENV
TENANTRY_ENV=production
TENANTRY_API_URL=$TENANTRY_API_URL
TENANTRY_HOST_JOIN_TOKEN=$TENANTRY_HOST_JOIN_TOKEN
TENANTRY_HOST_ADDRESS=$ADDRESS
TENANTRY_HOST_CREDENTIAL_FILE=/var/lib/tenantry/host-credential.json
ENV
mkdir -p "$ROOT/var/lib/tenantry"
chmod 0700 "$ROOT/var/lib/tenantry"
write_file "/etc/systemd/system/$UNIT" 0644 <<'UNIT'
[Unit]
Description=Tenantry host agent: registers this pod host and reports its pods
Documentation=https://github.com/tenantry/tenantry
After=network-online.target docker.service ssh.service
Wants=network-online.target
Requires=docker.service

[Service]
Type=simple
EnvironmentFile=/etc/tenantry/host-agent.env
ExecStart=/opt/tenantry/bin/tenantry host-agent
# Exit 2 is the API refusing this host (bad or spent join token, another host key) or
# a pod firewall that could not be installed (see the journal):
# restarting would not help, an operator must look.
Restart=on-failure
RestartPreventExitStatus=2
RestartSec=5
StateDirectory=tenantry
StateDirectoryMode=0700
UMask=0077

[Install]
WantedBy=multi-user.target
UNIT

# The network rules (pods of different accounts kept apart, no metadata or host access)
# are checked by the agent itself at start; see tenantry/agents/host/.

if [ "$OFFLINE" != 1 ]; then
    say "installing the agent ($PACKAGE) into /opt/tenantry"
    python3 -m venv /opt/tenantry
    /opt/tenantry/bin/pip install -q "$PACKAGE"
    systemctl daemon-reload
    systemctl restart docker
    systemctl restart ssh
    systemctl enable --now "$UNIT"
fi
say "done: host address $ADDRESS, reporting to $TENANTRY_API_URL"
