"""``python -m devstack.stripe``: the local Stripe API emulator."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from aiohttp import web

from devstack.stripe.app import build_app
from devstack.stripe.context import Config


def _delays(text: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of seconds: {text}") from None
    if any(v < 0 for v in values):
        raise argparse.ArgumentTypeError("delays must be >= 0")
    return values


def parse_args(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.stripe",
        description="A local Stripe API emulator for the official stripe client.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback only)")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument(
        "--public-url",
        default=None,
        help="base URL in checkout/invoice links (default http://HOST:PORT)",
    )
    parser.add_argument(
        "--webhook-retry-delays",
        type=_delays,
        default=[1, 2, 4, 8, 16],
        help="seconds between webhook delivery attempts, comma-separated; "
        "attempts = delays + 1 (default 1,2,4,8,16)",
    )
    parser.add_argument(
        "--webhook-timeout",
        type=float,
        default=10.0,
        help="seconds to wait for a webhook receiver's answer",
    )
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=None,
        help="API requests per second before 429 rate_limit (default off)",
    )
    parser.add_argument("--rate-burst", type=int, default=25, help="token bucket size")
    parser.add_argument(
        "--state-file", type=Path, default=None, help="JSON file that keeps objects across restarts"
    )
    parser.add_argument(
        "--tick",
        type=float,
        default=1.0,
        help="seconds between housekeeping runs (renewals, expiry)",
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    if not args.host.startswith("127.") and args.host != "localhost":
        parser.error("--host must be a loopback address (127.x)")
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return Config(
        host=args.host,
        port=args.port,
        public_url=args.public_url,
        retry_delays=args.webhook_retry_delays,
        webhook_timeout=args.webhook_timeout,
        rate_limit=args.rate_limit,
        rate_burst=args.rate_burst,
        state_file=args.state_file,
        tick=args.tick,
    )


def main(argv: list[str] | None = None) -> None:
    config = parse_args(argv)
    web.run_app(
        build_app(config),
        host=config.host,
        port=config.port,
        print=lambda msg: logging.getLogger("devstack.stripe").info(
            "Stripe emulator on %s", config.base_url
        ),
        access_log=None,
    )


if __name__ == "__main__":
    main()
