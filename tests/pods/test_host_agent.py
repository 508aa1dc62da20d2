"""`tenantry host-agent` as real processes on the test pod hosts, against the real stack.

Sessions are real: `ssh` into the pod host (strict host-key checking against the pinned
known_hosts), then `docker exec` into the pod, as a user on the host would.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devstack.docker import DockerDaemon
from devstack.podhost import generate_keypair
from devstack.procs import ManagedProcess, free_port
from tenantry.agents.host.docker import DockerEngine, engine_client
from tenantry.agents.host.network import PodFirewall, run_iptables
from tests.fixtures.api import ADMIN_TOKEN
from tests.fixtures.stack import Stack
from tests.support.pods import POD_CONFIG, containers_of, create, status, wait
from tests.support.poll import eventually

TENANTRY = Path(sys.executable).with_name("tenantry")
HEARTBEAT_TIMEOUT = 5
"""Seconds of silence after which a host is offline, in the tests that let one go quiet."""


def cli_hosts(stack: Stack) -> dict[str, dict[str, Any]]:
    """`tenantry hosts list --json` as an operator runs it, by host name."""
    result = subprocess.run(
        [str(TENANTRY), "hosts", "list", "--json", "--api-url", stack.api.url],
        env={"TENANTRY_TOKEN": ADMIN_TOKEN, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return {h["name"]: h for h in json.loads(result.stdout)}


def ssh_into_pod(stack: Stack, host_name: str, pod_id: str, *argv: str) -> subprocess.Popen[str]:
    """`ssh host docker exec pod-<id> ...`: a session into the pod through its host."""
    assert stack.pod_hosts is not None
    host = next(h for h in stack.pod_hosts.hosts if h.name == host_name)
    command = ["ssh", "-i", str(stack.pod_hosts.client_key)]
    command += ["-o", f"UserKnownHostsFile={stack.pod_hosts.known_hosts}"]
    command += ["-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"]
    command += ["-p", str(host.port), f"{host.user}@{host.address}"]
    command += ["docker", "exec", f"pod-{pod_id}", *argv]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def host_of(stack: Stack, name: str) -> dict[str, Any]:
    with stack.api.admin() as admin:
        hosts = {h["name"]: h for h in admin.get("/v1/admin/hosts").json()["data"]}
    return dict(hosts[name])


def test_an_ssh_session_into_a_pod_keeps_it_up_and_it_hibernates_after(
    stack_factory: Callable[..., Stack],
) -> None:
    stack = stack_factory(pods=True)
    stack.start_host_agent(0)
    stack.start_host_agent(1)
    key = stack.new_account("sessions@example.com")
    pod_id = create(stack, key, "busy", POD_CONFIG + "idle_timeout: 6s\n")
    pod = wait(stack, key, pod_id, status("running", "failed"))
    assert pod["status"] == "running", pod["error"]
    host_name = pod["host"]

    # The agent reports the pod's limits as its host's usage.
    eventually(
        lambda: host_of(stack, host_name)["used_memory_mb"] == 1024,
        timeout=10,
        what=lambda _: f"usage on the pod's host not within 10s\n{stack.agent_logs()}",
        interval=0.2,
    )

    # A session into the pod for 15 s: more than twice the idle timeout.
    session = ssh_into_pod(stack, host_name, pod_id, "sleep", "15")
    try:
        began = time.monotonic()
        while time.monotonic() - began < 14:
            assert session.poll() is None, session.communicate()
            with stack.api.client(key) as http:
                pod = http.get(f"/v1/pods/{pod_id}").json()
            assert pod["status"] == "running", f"{pod}\n{stack.agent_logs()}"
            time.sleep(1)
        assert pod["last_activity_source"] == "ssh"
        _, err = session.communicate(timeout=30)
        assert session.returncode == 0, err
    finally:
        if session.poll() is None:
            session.kill()

    # The session is over: silence, and the pod hibernates by itself.
    pod = wait(stack, key, pod_id, status("hibernated", "failed"), timeout=60)
    assert pod["status"] == "hibernated", pod["error"]
    assert containers_of(stack, pod_id) == []
    eventually(
        lambda: host_of(stack, host_name)["used_memory_mb"] == 0,
        timeout=10,
        what=lambda _: f"usage back to 0 not within 10s\n{stack.agent_logs()}",
        interval=0.2,
    )


def test_a_host_whose_agent_stops_gets_no_new_pods_until_it_reports_again(
    stack_factory: Callable[..., Stack],
) -> None:
    # The silence allowed is several report intervals: a loaded CI machine can delay one
    # report (a slow `docker ps`) by a second or two without the host going offline.
    stack = stack_factory(pods=True, host_heartbeat_timeout=HEARTBEAT_TIMEOUT)
    first = stack.start_host_agent(0, interval=0.5)
    stack.start_host_agent(1, interval=0.5)
    hosts = eventually(
        lambda: cli_hosts(stack),
        until=lambda hosts: all(h["available"] for h in hosts.values()) and len(hosts) == 2,
        timeout=10,
        what="both hosts available",
    )
    assert hosts["host-1"]["capacity_cpu_millis"] == 4000
    assert hosts["host-1"]["metrics"]["pods"] == []
    assert hosts["host-1"]["metrics"]["free_memory_mb"] > 0

    # It keeps the credential it got for its join token, private to it.
    credential = stack.credential_file(0)
    assert credential.stat().st_mode & 0o777 == 0o600
    assert json.loads(credential.read_text())["host_id"] == hosts["host-1"]["host_id"]

    first.kill()  # the agent dies with its host: no goodbye
    time.sleep(HEARTBEAT_TIMEOUT + 1)
    hosts = cli_hosts(stack)
    assert hosts["host-1"]["available"] is False
    assert hosts["host-1"]["status"] == "offline"
    assert hosts["host-2"]["available"] is True

    key = stack.new_account("placement@example.com")
    pod_id = create(stack, key, "elsewhere")
    pod = wait(stack, key, pod_id, status("running", "failed"))
    assert pod["status"] == "running", pod["error"]
    assert pod["host"] == "host-2"
    eventually(
        lambda: cli_hosts(stack)["host-2"]["metrics"]["pods"] == [pod_id],
        timeout=10,
        what=lambda _: f"the pod in host-2's report not within 10s\n{stack.agent_logs()}",
        interval=0.2,
    )

    # Started again, it reports with its saved credential (the join token is spent).
    again = stack.start_host_agent(0, interval=0.5)
    assert "with its saved credential" in again.log_path.read_text()
    hosts = eventually(
        lambda: cli_hosts(stack),
        until=lambda hosts: hosts["host-1"]["available"] is True,
        timeout=10,
        what=lambda last: f"host-1 available again; last {last}\n{stack.agent_logs()}",
    )
    assert hosts["host-1"]["status"] == "active"

    with stack.api.client(key) as http:
        assert http.delete(f"/v1/pods/{pod_id}").status_code in (200, 202)
    wait(stack, key, pod_id, status("destroyed"))


def test_a_host_key_other_than_the_pinned_one_is_fatal(
    stack_factory: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = stack_factory(pods=True, start_worker=False)
    stack.register_pod_hosts()  # host-1 is known with its real key
    assert stack.pod_hosts is not None
    host = stack.pod_hosts.hosts[0]
    impostor = generate_keypair(tmp_path / "impostor", "impostor")
    result = subprocess.run(
        [str(TENANTRY), "host-agent", "--api-url", stack.api.url, "--name", host.name],
        env={
            # A bare environment; what is tested is registration, not the pod firewall.
            "TENANTRY_POD_FIREWALL": "off",
            "TENANTRY_HOST_JOIN_TOKEN": stack.mint_join_token(),
            "TENANTRY_HOST_CREDENTIAL_FILE": str(tmp_path / "impostor.json"),
            "TENANTRY_HOST_ADDRESS": host.address,
            "TENANTRY_HOST_KEY_FILE": f"{impostor}.pub",
            "DOCKER_HOST": stack.pod_hosts.docker_host,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "host_key_mismatch" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "impostor.json").exists()
    # A wrong join token is just as fatal.
    result = subprocess.run(
        [str(TENANTRY), "host-agent", "--api-url", stack.api.url, "--name", host.name],
        env={
            "TENANTRY_POD_FIREWALL": "off",
            "TENANTRY_HOST_JOIN_TOKEN": "not-the-token",
            "TENANTRY_HOST_CREDENTIAL_FILE": str(tmp_path / "wrong.json"),
            "TENANTRY_HOST_ADDRESS": host.address,
            "TENANTRY_HOST_KEY_FILE": f"{host.host_key_path}.pub",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "HTTP 401" in result.stdout


def test_an_unreachable_api_is_retried_and_sigterm_stops_the_agent(
    stack_factory: Callable[..., Stack], tmp_path: Path
) -> None:
    """The agent starts before the API exists, keeps trying, registers once it answers."""
    stack = stack_factory(pods=True, start_worker=False)
    assert stack.pod_hosts is not None
    host = stack.pod_hosts.hosts[1]
    log = tmp_path / "agent.log"
    port = free_port()
    relay = ManagedProcess(
        name="relay",
        argv=[sys.executable, "-c", RELAY, str(port), stack.api.url.rsplit(":", 1)[1]],
        log_path=tmp_path / "relay.log",
    )
    agent = ManagedProcess(
        name="agent",
        argv=[
            str(TENANTRY),
            "host-agent",
            "--api-url",
            f"http://127.0.0.1:{port}",
            "--name",
            host.name,
            "--address",
            host.address,
            "--host-key-file",
            f"{host.host_key_path}.pub",
            "--interval",
            "1",
        ],
        log_path=log,
        env={
            "TENANTRY_HOST_JOIN_TOKEN": stack.mint_join_token(),
            "TENANTRY_HOST_CREDENTIAL_FILE": str(tmp_path / "credential.json"),
            "DOCKER_HOST": stack.pod_hosts.docker_host,
        },
    ).start()
    try:
        eventually(
            lambda: log.read_text().count("cannot reach the API") >= 2,
            timeout=20,
            what="retries",
            interval=0.2,
        )
        assert agent.running
        relay.start()  # now the API is reachable at the agent's URL
        eventually(
            lambda: "registered host host-2" in log.read_text(),
            timeout=20,
            what="registration",
            interval=0.2,
        )
        assert agent.proc is not None
        agent.proc.send_signal(signal.SIGTERM)
        assert agent.proc.wait(15) == 0, log.read_text()
        assert "stopped" in log.read_text()
    finally:
        agent.stop()
        relay.stop()


# A TCP relay from the agent's URL to the API: the "API" appears while the agent runs.
RELAY = """
import asyncio, sys
async def pipe(r, w):
    try:
        while data := await r.read(65536):
            w.write(data); await w.drain()
    finally:
        w.close()
async def serve(r, w):
    ur, uw = await asyncio.open_connection("127.0.0.1", int(sys.argv[2]))
    await asyncio.gather(pipe(r, uw), pipe(ur, w), return_exceptions=True)
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]))
    await server.serve_forever()
asyncio.run(main())
"""


def test_what_counts_as_a_session_and_whose_pod_it_is(
    docker_daemon: DockerDaemon, pod_base_image: str
) -> None:
    """The agent's view of a real container: limits, exec sessions, SSH-service connections."""
    pod_id = f"p{uuid.uuid4().hex[:10]}"
    address = "127.0.11.250"
    run = ["docker", "-H", docker_daemon.host, "run", "-d", "--init", "--name", f"pod-{pod_id}"]
    run += ["--label", f"tenantry.pod={pod_id}", "--label", "tenantry.services=http:8080,ssh:2222"]
    run += ["-p", f"{address}::8080", "-p", f"{address}::2222", "--cpus", "0.5", "-m", "256m"]
    run += [pod_base_image, "sh", "-c", "httpd -p 8080 -h /workspace; nc -ll -p 2222 -e cat"]
    subprocess.run(run, check=True, capture_output=True)
    docker = DockerEngine(engine_client(docker_daemon.host))
    try:
        (pod,) = docker.pods(address)
        assert (pod.pod_id, pod.cpu_millis, pod.memory_mb) == (pod_id, 500, 256)
        assert not pod.in_session
        assert docker.pods("127.0.11.251") == []  # ports published elsewhere: not that host's

        ports = {p: published_port(docker_daemon, pod_id, p) for p in (8080, 2222)}
        # An open HTTP connection is the proxy's business, not a session.
        with socket.create_connection((address, ports[8080])):
            time.sleep(0.5)
            assert not docker.pods(address)[0].in_session
            with socket.create_connection((address, ports[2222])):
                eventually(
                    lambda: docker.pods(address)[0].ssh_connections == 1,
                    timeout=15,
                    what="ssh connection",
                    interval=0.2,
                )
            eventually(
                lambda: docker.pods(address)[0].ssh_connections == 0,
                timeout=15,
                what="connection closed",
                interval=0.2,
            )

        sleeper = subprocess.Popen(
            ["docker", "-H", docker_daemon.host, "exec", f"pod-{pod_id}", "sleep", "3"]
        )
        try:
            eventually(
                lambda: docker.pods(address)[0].exec_sessions == 1,
                timeout=15,
                what="exec session",
                interval=0.2,
            )
        finally:
            assert sleeper.wait(30) == 0
        eventually(
            lambda: not docker.pods(address)[0].in_session,
            timeout=15,
            what="exec ended",
            interval=0.2,
        )
    finally:
        docker.close()
        rm = ["docker", "-H", docker_daemon.host, "rm", "-f", f"pod-{pod_id}"]
        subprocess.run(rm, check=False, capture_output=True)


def published_port(docker_daemon: DockerDaemon, pod_id: str, port: int) -> int:
    out = subprocess.run(
        ["docker", "-H", docker_daemon.host, "port", f"pod-{pod_id}", str(port)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(out.split()[0].rsplit(":", 1)[1])


def _drop_prefix_rules(firewall: PodFirewall) -> None:
    """Takes out one bridge prefix's rules; the chains and hooks, shared by every
    prefix (and so by other test sessions), stay."""
    for rule in firewall.rules():
        while run_iptables(["-C", rule.chain, *rule.spec]) == 0:
            run_iptables(["-D", rule.chain, *rule.spec])


def _agent_env(stack: Stack, tmp_path: Path, *, mode: str, prefix: str) -> dict[str, str]:
    assert stack.pod_hosts is not None
    return {
        "PATH": "/usr/bin:/bin",  # as a service's: iptables is found in /usr/sbin anyway
        "TENANTRY_ENV": "dev",
        "TENANTRY_POD_FIREWALL": mode,
        "TENANTRY_POD_BRIDGE_PREFIX": prefix,
        "TENANTRY_HOST_JOIN_TOKEN": stack.mint_join_token(),
        "TENANTRY_HOST_CREDENTIAL_FILE": str(tmp_path / f"{prefix}.json"),
        "DOCKER_HOST": stack.pod_hosts.docker_host,
    }


def test_the_agent_fences_pods_in_before_it_registers(
    stack_factory: Callable[..., Stack], tmp_path: Path
) -> None:
    """The pod firewall is the agent's first step: in place before the host asks for
    pods, and a host where it cannot be put in place exits 2 unregistered."""
    stack = stack_factory(pods=True, start_worker=False)
    assert stack.pod_hosts is not None
    host = stack.pod_hosts.hosts[0]
    prefix = f"tf{uuid.uuid4().hex[:3]}"
    firewall = PodFirewall(bridge_prefix=prefix, forward_hook="FORWARD")
    argv = [str(TENANTRY), "host-agent", "--api-url", stack.api.url, "--name", host.name]
    argv += ["--address", host.address, "--ssh-port", str(host.port)]
    argv += ["--host-key-file", f"{host.host_key_path}.pub", "--interval", "1"]
    assert set(firewall.rules()) <= set(firewall.missing())  # a prefix nobody used yet
    log = tmp_path / "agent.log"
    agent = ManagedProcess(
        name="fenced agent",
        argv=argv,
        log_path=log,
        env=_agent_env(stack, tmp_path, mode="forward", prefix=prefix),
        ready=lambda: "registered host" in (log.read_text() if log.exists() else ""),
        ready_timeout=60,
    )
    try:
        agent.start()
        text = log.read_text()
        assert text.index(f"pod firewall in place for bridges {prefix}*") < text.index(
            "registered host"
        )
        assert firewall.missing() == []
    finally:
        agent.stop()
        _drop_prefix_rules(firewall)

    # Where Docker does not manage iptables there is no DOCKER-USER chain to hook into:
    # an agent told to use it cannot fence pods in, and takes none.
    assert run_iptables(["-n", "-L", "DOCKER-USER"]) != 0, "this test needs no DOCKER-USER"
    other = f"tf{uuid.uuid4().hex[:3]}"
    try:
        result = subprocess.run(
            argv,
            env=_agent_env(stack, tmp_path, mode="docker-user", prefix=other),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        _drop_prefix_rules(PodFirewall(bridge_prefix=other, forward_hook="DOCKER-USER"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "pod firewall not in place, refusing pods" in result.stdout + result.stderr
    assert "registered host" not in result.stdout + result.stderr
    assert not (tmp_path / f"{other}.json").exists()
