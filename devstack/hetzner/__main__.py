"""``python -m devstack.hetzner``: the Hetzner Cloud API emulator as a process.

SIGTERM and SIGINT stop every sshd and listener it started before it exits.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from aiohttp import web

from devstack.hetzner.app import build_app
from devstack.hetzner.config import DEFAULT_PORT, DEFAULT_TOKEN, EmulatorConfig, parse_latency


def parse_args(argv: list[str] | None = None) -> EmulatorConfig:
    p = argparse.ArgumentParser(prog="python -m devstack.hetzner", description=__doc__)
    p.add_argument("--host", default="127.0.0.1", help="API bind address (loopback only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--token", default=DEFAULT_TOKEN, help="the one API token accepted")
    p.add_argument("--network", default="127.20.0.0/16", help="loopback network for servers")
    p.add_argument("--first-address", default=None, help="first server address (default .2)")
    p.add_argument("--state-dir", type=Path, default=Path(".tenantry/hetzner"))
    p.add_argument("--boot-delay", type=float, default=2.0, help="seconds until SSH answers")
    p.add_argument("--action-duration", type=float, default=1.0, help="seconds per action")
    p.add_argument("--rate-limit", type=int, default=3600, help="requests per hour per token")
    p.add_argument("--sshd", dest="sshd_path", default="/usr/sbin/sshd")
    p.add_argument("--persist", action="store_true",
                   help="keep servers in <state-dir>/state.json across restarts")  # fmt: skip
    p.add_argument("--latency", dest="server_latency", action="append", default=[],
                   metavar="TYPE=RUNNING:HEALTHY",
                   help="realistic delays per server type (* for all), e.g. '*=45:20'")  # fmt: skip
    args = p.parse_args(argv)
    try:
        args.server_latency = dict(parse_latency(item) for item in args.server_latency)
    except ValueError as exc:
        p.error(f"--latency: {exc}")
    if not args.host.startswith("127."):
        p.error("--host must be a loopback address (127.x)")
    if args.boot_delay < 0 or args.action_duration < 0 or args.rate_limit < 1:
        p.error("--boot-delay and --action-duration must be >= 0, --rate-limit >= 1")
    return EmulatorConfig(**vars(args))


def main(argv: list[str] | None = None) -> None:
    config = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    config.state_dir.mkdir(parents=True, exist_ok=True)
    app = build_app(config)
    print(f"Hetzner emulator on http://{config.host}:{config.port}/v1", flush=True)
    web.run_app(app, host=config.host, port=config.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
