#!/usr/bin/env bash
# Installs what Tenantry needs on a Debian machine: the Debian packages for the local
# stack (as root, only those missing), a virtualenv in .venv, and the project (editable)
# with its dev extra (which includes the devstack extra that `tenantry dev` needs). Safe
# to run again and again: a second run does nothing and takes well under a second,
# because pip runs only when pyproject.toml changed (a stamp keyed on its hash).
#
#   scripts/install.sh            what `make install` (and so `make dev`/`make test`) runs
#   PYTHON=python3.11 scripts/install.sh
#   TENANTRY_INSTALL_FORCE=1 scripts/install.sh   reinstall the Python packages
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
# runsc: gVisor, the default pod runtime; e2fsprogs: each workspace is its own ext4
# image (mkfs.ext4); iptables: the pod hosts' firewall between accounts' networks;
# mmdebstrap and cloud-init: the pod host install's tests (a fresh Debian image, the
# cloud-config schema check) and the deployment test's base image.
APT_PACKAGES=(docker.io runsc e2fsprogs iptables openssh-server caddy busybox-static zstd postgresql mmdebstrap cloud-init)

say() { echo "install: $*"; }

# --- Debian packages -------------------------------------------------------------------
debian_missing() {
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || echo "$pkg"
    done
}

apt_install() {
    # Packages' maintainer scripts must not start services here (docker, postgresql,
    # ssh, caddy): `tenantry dev` runs its own instances on its own ports.
    local policy=/usr/sbin/policy-rc.d created_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
    fi
    local status=0
    say "apt-get install $*"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "$@" >/dev/null; } || status=$?
    [ -n "$created_policy" ] && rm -f "$policy"
    return "$status"
}

if command -v dpkg-query >/dev/null 2>&1; then
    wanted=("${APT_PACKAGES[@]}")
    # Debian's python3 needs python3-venv for `python3 -m venv`.
    if [ ! -x "$VENV/bin/python" ] && ! "$PYTHON" -c "import ensurepip" >/dev/null 2>&1; then
        wanted+=(python3-venv)
    fi
    # tests/clients runs third-party Node clients against the emulators; any Node >= 18
    # will do (Debian 12 ships 18), so Debian's is installed only when there is none.
    if ! command -v npm >/dev/null 2>&1; then
        wanted+=(nodejs npm)
    fi
    mapfile -t missing < <(debian_missing "${wanted[@]}")
    if [ "${#missing[@]}" -gt 0 ]; then
        if [ "$(id -u)" = 0 ]; then
            apt_install "${missing[@]}" || say "WARNING: apt-get failed; parts of the local stack may be missing"
        else
            say "WARNING: missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"
        fi
    fi
else
    say "not a Debian system: install ${APT_PACKAGES[*]} (or equivalents) yourself"
fi

# --- the virtualenv and the project -----------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv "$VENV"
fi

stamp="$VENV/.tenantry-install"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
have="$(cat "$stamp" 2>/dev/null || true)"
if [ "$want" != "$have" ] || [ ! -x "$VENV/bin/tenantry" ] || [ -n "${TENANTRY_INSTALL_FORCE:-}" ]; then
    say "pip install -e '.[dev]' into $VENV (log: $VENV/pip-install.log)"
    # The build backend's warnings are noise on success; on failure the whole log shows.
    if ! "$VENV/bin/python" -m pip install --progress-bar off -e '.[dev]' \
        >"$VENV/pip-install.log" 2>&1; then
        cat "$VENV/pip-install.log" >&2
        say "pip install failed"
        exit 1
    fi
    echo "$want" >"$stamp"
fi

# --- Node clients for tests/clients (pinned by its package-lock.json) --------------------
# Installed into tests/clients/node_modules (git-ignored), again only when the lock changed.
node_dir=tests/clients
if command -v npm >/dev/null 2>&1; then
    node_stamp="$node_dir/node_modules/.tenantry-install"
    node_want="$(sha256sum "$node_dir/package-lock.json" | cut -d' ' -f1)"
    if [ "$node_want" != "$(cat "$node_stamp" 2>/dev/null || true)" ]; then
        say "npm ci in $node_dir (log: $VENV/npm-install.log)"
        if ! npm ci --prefix "$node_dir" --ignore-scripts --no-audit --no-fund \
            >"$VENV/npm-install.log" 2>&1; then
            cat "$VENV/npm-install.log" >&2
            say "npm ci failed"
            exit 1
        fi
        echo "$node_want" >"$node_stamp"
    fi
else
    say "WARNING: npm is missing: tests/clients needs Node.js >= 18 and npm"
fi
