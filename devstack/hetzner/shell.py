"""The emulated server's shell, run by sshd's ``ForceCommand`` for every session.

It interprets ``$SSH_ORIGINAL_COMMAND`` from a small whitelist, so SSH access to an
emulated server can never run anything on the real machine:

- ``tenantry-stack start|stop|status|restart``: the product's switch for the tenant stack;
- ``tenantry-stack version``: the image tag in the compose file's ``image:``;
- ``tenantry-stack running``: the tag the running containers were created from (what
  ``docker inspect`` says on a real server), empty while the stack is stopped;
- ``tenantry-stack pull <tag>``: pulls the image at that tag, the compose file untouched;
  it fails while ``failing_pulls`` in ``/_admin/config`` says so, as a registry can;
- ``tenantry-stack deploy <tag>``: pulls the tag if it is not there yet, then retags the
  compose file's image and recreates the stack, as ``docker compose up -d`` would;
  deploying the tag the containers already run changes nothing (no restart), and a
  failed pull leaves the file as it was. Whether a tag's app is healthy is the emulator's business
  (``failing_stack_tags`` in ``/_admin/config``), as it would be the image's on a real
  server;
- ``tenantry-stack personalise <hostname>``: a warm pool server becomes a tenant's: the
  stack's env file from stdin, the hostname, the stack started;
- ``cat <path>...``: files that cloud-init ``write_files`` put on the server;
- ``true``, ``hostname``, ``uname [-a]``, ``cloud-init status [--wait]`` (``running``
  until the boot-to-health latency has passed; ``--wait`` waits for it).

Anything else exits 127 with a message on stderr, as a shell would.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import time
from pathlib import Path, PurePosixPath

from devstack.hetzner.serverfs import STACK_RUNNING, STACK_STOPPED, TAG_PATTERN, ServerFS

KERNEL = "6.8.0-tenantry"
HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def _stack(fs: ServerFS, args: list[str]) -> int:
    if args == ["status"]:
        print(fs.stack_state())
        return 0
    if args == ["start"]:
        fs.set_stack_state(STACK_RUNNING)
        print("tenant stack started")
        return 0
    if args == ["stop"]:
        fs.set_stack_state(STACK_STOPPED)
        print("tenant stack stopped")
        return 0
    if args == ["restart"]:
        fs.set_stack_state(STACK_RUNNING)
        fs.mark_started()
        print("tenant stack restarted")
        return 0
    if args == ["version"]:
        version = fs.stack_version()
        if version is None:
            print("no tenant stack installed (/opt/tenantry/docker-compose.yml)", file=sys.stderr)
            return 1
        print(version)
        return 0
    if args == ["running"]:
        if fs.stack_state() == STACK_RUNNING:
            print(fs.running_version() or "")
        return 0
    if len(args) == 2 and args[0] == "personalise":
        return _personalise(fs, args[1])
    if len(args) == 2 and args[0] == "pull":
        return _pull(fs, args[1])
    if len(args) == 2 and args[0] == "deploy":
        return _deploy(fs, args[1])
    print(
        "usage: tenantry-stack start|stop|status|restart|version|running|pull <tag>|deploy <tag>"
        "|personalise <hostname>",
        file=sys.stderr,
    )
    return 2


def _personalise(fs: ServerFS, hostname: str) -> int:
    """A warm pool server becomes a tenant's: the env file from stdin, its hostname, the
    stack started (recreated, so it answers after a moment)."""
    if not HOSTNAME.match(hostname):
        print(f"invalid hostname {hostname!r}", file=sys.stderr)
        return 2
    env = fs.root / "etc" / "tenantry" / "stack.env"
    env.parent.mkdir(parents=True, exist_ok=True)
    tmp = env.with_suffix(".new")
    tmp.touch(mode=0o600)
    tmp.write_bytes(sys.stdin.buffer.read())
    tmp.replace(env)
    fs.hostname_file.write_text(hostname + "\n")
    fs.set_stack_state(STACK_RUNNING)
    fs.mark_started()
    print(f"tenant stack personalised for {hostname}")
    return 0


def _pull(fs: ServerFS, tag: str) -> int:
    if not TAG_PATTERN.match(tag):
        print(f"invalid image tag {tag!r}", file=sys.stderr)
        return 2
    error = fs.pull(tag)
    if error is not None:
        print(error, file=sys.stderr)
        return 1
    return 0


def _deploy(fs: ServerFS, tag: str) -> int:
    if not TAG_PATTERN.match(tag):
        print(f"invalid image tag {tag!r}", file=sys.stderr)
        return 2
    if fs.stack_version() is None:
        print("no tenant stack installed (/opt/tenantry/docker-compose.yml)", file=sys.stderr)
        return 1
    current = fs.running_version()
    if current == tag and fs.stack_state() == STACK_RUNNING:
        print(f"tenant stack already runs {tag}")
        return 0
    if not fs.pulled(tag) and (code := _pull(fs, tag)) != 0:
        return code
    fs.set_stack_version(tag)
    fs.set_running_version(tag)
    fs.set_stack_state(STACK_RUNNING)
    fs.mark_started()
    print(f"tenant stack deployed {tag} (was {current})")
    return 0


def _cat(fs: ServerFS, paths: list[str]) -> int:
    code = 0
    for path in paths:
        parts = PurePosixPath("/", path).parts[1:]
        target = fs.root.joinpath(*parts)
        if ".." in parts or not target.is_file():
            print(f"cat: {path}: No such file or directory", file=sys.stderr)
            code = 1
            continue
        sys.stdout.buffer.write(target.read_bytes())
    sys.stdout.flush()
    return code


def run(command: str, fs: ServerFS) -> int:
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        print(f"sh: syntax error: {exc}", file=sys.stderr)
        return 2
    if not argv:
        print("this emulated server runs single commands only", file=sys.stderr)
        return 1
    name, args = argv[0], argv[1:]
    if name == "tenantry-stack":
        return _stack(fs, args)
    if name == "cat" and args:
        return _cat(fs, args)
    if argv == ["true"]:
        return 0
    if argv == ["hostname"]:
        print(fs.hostname())
        return 0
    if name == "uname" and args in ([], ["-a"]):
        host = fs.hostname()
        print(f"Linux {host} {KERNEL} #1 SMP x86_64 GNU/Linux" if args else "Linux")
        return 0
    if name == "cloud-init" and args in (["status"], ["status", "--wait"]):
        left = fs.seconds_until_healthy()
        if left > 0 and "--wait" not in args:
            print("status: running")
            return 0
        time.sleep(left)
        print("status: done")
        return 0
    print(f"sh: 1: {name}: not found", file=sys.stderr)
    return 127


def main() -> int:
    server_dir = os.environ.get("TENANTRY_SERVER_DIR")
    if not server_dir:
        print("TENANTRY_SERVER_DIR is not set", file=sys.stderr)
        return 1
    return run(os.environ.get("SSH_ORIGINAL_COMMAND", ""), ServerFS(Path(server_dir)))


if __name__ == "__main__":
    sys.exit(main())
