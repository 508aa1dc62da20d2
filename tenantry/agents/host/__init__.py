"""`tenantry host-agent`: runs on every pod host and keeps the control plane's view of it true.

It registers the host with the API once, spending a single-use join token for the host's
own credential (saved with mode 0600 at ``TENANTRY_HOST_CREDENTIAL_FILE``): its name, the
address and port the control plane reaches it on over SSH, its SSH host key (pinned by
the API from then on) and its capacity. A new host waits as `pending` until an admin
approves it, unless its token was minted approved. Then it heartbeats every interval
with capacity and usage, and reports pods with live sessions as activity. A host whose
agent stops is marked offline after ``TENANTRY_HOST_HEARTBEAT_TIMEOUT`` and gets no new
pods until its agent reports again. SIGTERM or SIGINT stops it between two reports (exit 0).
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from types import FrameType

import httpx

from tenantry.agents.host import machine
from tenantry.agents.host.agent import AgentRefused, HostAgent, HostIdentity
from tenantry.agents.host.docker import DockerEngine, engine_client
from tenantry.agents.host.network import FirewallError, ensure_pod_firewall
from tenantry.observability.logs import configure_logging
from tenantry.settings import HostAgentSettings

__all__ = ["AgentRefused", "HostAgent", "HostIdentity", "identity_from", "run_agent"]

EXIT_OK = 0
EXIT_REFUSED = 2

log = logging.getLogger("tenantry.agents.host")


def identity_from(settings: HostAgentSettings) -> HostIdentity:
    """Who this host is; capacity not set is measured on this machine."""
    if not settings.host_address:
        raise ValueError(
            "the address the control plane reaches this host on is required: "
            "--address or TENANTRY_HOST_ADDRESS"
        )
    return HostIdentity(
        name=(settings.host_name or socket.gethostname()).lower(),
        address=settings.host_address,
        ssh_port=settings.host_ssh_port,
        host_key_file=settings.host_key_file,
        cpu_millis=(
            settings.host_cpu_millis
            if settings.host_cpu_millis is not None
            else machine.cpu_millis()
        ),
        memory_mb=(
            settings.host_memory_mb if settings.host_memory_mb is not None else machine.memory_mb()
        ),
    )


def run_agent(settings: HostAgentSettings, identity: HostIdentity) -> int:
    """Runs until SIGTERM/SIGINT (0) or until the API refuses this host (2)."""
    configure_logging(
        settings.log_format, text_format="%(asctime)s %(levelname)s host-agent: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request is noise
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("%s: stopping", signal.Signals(signum).name)
        stop.set()

    # The host's network rules (pods of different accounts apart, no metadata or host
    # access) are in place before the first registration: a host whose rules cannot be
    # installed exits EXIT_REFUSED instead of asking for pods.
    if settings.pod_firewall != "off":
        try:
            ensure_pod_firewall(
                settings.pod_bridge_prefix,
                docker_manages_iptables=settings.pod_firewall == "docker-user",
            )
        except (FirewallError, OSError) as exc:
            log.error("pod firewall not in place, refusing pods: %s", exc)
            return EXIT_REFUSED
        log.info("pod firewall in place for bridges %s*", settings.pod_bridge_prefix)
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    join_token = settings.host_join_token.get_secret_value() if settings.host_join_token else None
    interval = settings.host_heartbeat_interval.total_seconds()
    try:
        with httpx.Client(
            base_url=settings.api_url,
            timeout=min(10.0, max(interval, 2.0)),
        ) as api:
            docker = DockerEngine(engine_client(settings.docker_host))
            try:
                log.info(
                    "host %s reporting to %s every %gs (docker %s)",
                    identity.name,
                    settings.api_url,
                    interval,
                    settings.docker_host,
                )
                HostAgent(
                    identity,
                    api=api,
                    docker=docker,
                    interval=interval,
                    stop=stop,
                    credential_file=settings.host_credential_file,
                    join_token=join_token,
                ).run()
            finally:
                docker.close()
    except AgentRefused as exc:
        log.error("the API refused this host: %s", exc)
        return EXIT_REFUSED
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("stopped")
    return EXIT_OK
