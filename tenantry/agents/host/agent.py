"""The host agent's loop: register once, then heartbeat with capacity, usage and sessions.

Registering spends the single-use join token for this host's own credential, which is
saved (see `tenantry.agents.host.credential`) and used for every later call; an agent
that finds a saved credential at start never registers again.

Every ``interval`` the agent looks at the host (its Docker and ``/proc``), then sends one
heartbeat (capacity, what the pods here hold, free memory and load in ``metrics``, and
the SSH host key, which the API compares with the key it pinned at registration), and,
when any pod has a live session (see `tenantry.agents.host.docker`), one activity report
with source ``ssh`` so that those pods are not hibernated as idle. The heartbeat also
lists the upstreams (``address:port``) of the pods' published ports; the API refuses
any that is not on this host's registered address.

Errors are sorted once, here:

- the API refusing who we are (401/403: a bad, expired or spent join token, a
  credential of a removed host; or 409 ``host_key_mismatch``: another machine or a
  regenerated key under a registered name) or what we send (other 4xx) is fatal:
  `AgentRefused`, and the command exits 2 with the API's message;
- an unreachable API, a 5xx or a 429 is transient: retried with backoff (1 s doubling,
  at most one interval), the agent never dies of it;
- no saved credential and no join token is fatal as well;
- Docker not answering is reported in ``metrics`` (``docker_error``) and the heartbeat
  still goes out, since the host itself is alive.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tenantry.agents.host import machine
from tenantry.agents.host.credential import (
    CredentialError,
    HostCredential,
    load_credential,
    save_credential,
)
from tenantry.agents.host.docker import DockerEngine, DockerUnavailable, PodOnHost

log = logging.getLogger("tenantry.agents.host")

ACTIVITY_SOURCE = "ssh"


class AgentRefused(Exception):
    """The API refused this host for good (bad token, host key mismatch, bad data)."""


class _Transient(Exception):
    """Worth another try later (the API is down, overloaded or restarting)."""


@dataclass(frozen=True)
class HostIdentity:
    """Who this host says it is, and how big it is."""

    name: str
    address: str
    ssh_port: int
    host_key_file: Path
    cpu_millis: int
    memory_mb: int

    def host_key(self) -> str:
        """Read on every report, so a key regenerated under a running agent is noticed."""
        try:
            text = self.host_key_file.read_text().strip()
        except OSError as exc:
            raise AgentRefused(f"cannot read the SSH host key {self.host_key_file}: {exc}") from exc
        if not text:
            raise AgentRefused(f"the SSH host key file {self.host_key_file} is empty")
        return text


@dataclass(frozen=True)
class HostReport:
    pods: list[PodOnHost]
    docker_error: str | None

    def body(self, identity: HostIdentity) -> dict[str, Any]:
        metrics: dict[str, Any] = {
            "free_memory_mb": machine.available_memory_mb(),
            "load": machine.load_average(),
        }
        body: dict[str, Any] = {
            "capacity_cpu_millis": identity.cpu_millis,
            "capacity_memory_mb": identity.memory_mb,
            "ssh_host_key": identity.host_key(),
            "metrics": metrics,
        }
        if self.docker_error is not None:
            metrics["docker_error"] = self.docker_error
            return body  # usage unknown: the last known values stay
        body["upstreams"] = sorted({u for p in self.pods for u in p.upstreams})
        body["used_cpu_millis"] = sum(p.cpu_millis for p in self.pods)
        body["used_memory_mb"] = sum(p.memory_mb for p in self.pods)
        metrics["pods"] = [p.pod_id for p in self.pods]
        metrics["sessions"] = {
            p.pod_id: {"exec": p.exec_sessions, "ssh": p.ssh_connections}
            for p in self.pods
            if p.in_session
        }
        return body

    @property
    def active_pods(self) -> list[str]:
        return [p.pod_id for p in self.pods if p.in_session]


class HostAgent:
    def __init__(
        self,
        identity: HostIdentity,
        *,
        api: httpx.Client,
        docker: DockerEngine,
        interval: float,
        stop: threading.Event,
        credential_file: Path,
        join_token: str | None,
    ) -> None:
        self.identity = identity
        self._api = api
        self._docker = docker
        self._interval = interval
        self._stop = stop
        self._credential_file = credential_file
        self._join_token = join_token
        try:
            self._credential: HostCredential | None = load_credential(credential_file)
        except CredentialError as exc:
            raise AgentRefused(str(exc)) from exc
        self._announced = False  # the first report with a saved credential is logged

    @property
    def host_id(self) -> str | None:
        return None if self._credential is None else self._credential.host_id

    def run(self) -> None:
        """Reports until `stop` is set; raises `AgentRefused` when the API refuses us."""
        backoff = 1.0
        failing = False
        while not self._stop.is_set():
            try:
                self.report_once()
            except _Transient as exc:
                delay = min(backoff, self._interval)
                backoff *= 2
                log.warning("%s; retrying in %.1fs", exc, delay)
                failing = True
                self._stop.wait(delay)
                continue
            if failing:
                log.info("the API answers again")
                failing, backoff = False, 1.0
            self._stop.wait(self._interval)

    def report_once(self) -> HostReport:
        report = self.look()
        if self._credential is None:
            self._register(report)
        else:
            self._heartbeat(report)
            if not self._announced:
                self._announced = True
                log.info(
                    "reporting as host %s (id %s) with its saved credential",
                    self.identity.name,
                    self.host_id,
                )
        active = report.active_pods
        if active:
            result = self._call(
                "POST", "/v1/hosts/activity", {"source": ACTIVITY_SOURCE, "pods": active}
            )
            log.info("pods in session: %s (kept alive: %s)", active, result.get("kept_alive"))
        return report

    def look(self) -> HostReport:
        try:
            return HostReport(self._docker.pods(self.identity.address), None)
        except DockerUnavailable as exc:
            log.warning("%s", exc)
            return HostReport([], str(exc))

    def _register(self, report: HostReport) -> None:
        ident = self.identity
        if not self._join_token:
            raise AgentRefused(
                f"no saved credential at {self._credential_file} and no join token: "
                "mint one with `tenantry hosts join-token` (TENANTRY_HOST_JOIN_TOKEN)"
            )
        body = {
            "name": ident.name,
            "address": ident.address,
            "ssh_port": ident.ssh_port,
            **report.body(ident),
        }
        body.pop("upstreams", None)
        host = self._call("POST", "/v1/hosts/register", body, token=self._join_token)
        credential = HostCredential(host_id=str(host["host_id"]), credential=host["credential"])
        try:
            save_credential(self._credential_file, credential)
        except OSError as exc:
            raise AgentRefused(
                f"cannot save the host credential to {self._credential_file}: {exc}"
            ) from exc
        self._credential, self._join_token = credential, None
        self._announced = True
        log.info(
            "registered host %s (id %s) at %s:%d, %d mCPU, %d MB, state %s, status %s",
            ident.name,
            self.host_id,
            ident.address,
            ident.ssh_port,
            ident.cpu_millis,
            ident.memory_mb,
            host.get("state"),
            host.get("status"),
        )

    def _heartbeat(self, report: HostReport) -> None:
        self._call("POST", f"/v1/hosts/{self.host_id}/heartbeat", report.body(self.identity))

    def _call(self, method: str, path: str, body: dict[str, Any], token: str | None = None) -> Any:
        """One call with `token`, or this host's credential (never logged)."""
        if token is None:
            assert self._credential is not None
            token = self._credential.credential
        headers = {"Authorization": f"Bearer {token}"}
        try:
            response = self._api.request(method, path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise _Transient(f"cannot reach the API: {exc}") from exc
        if response.is_success:
            return response.json()
        message = _error_message(response)
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise _Transient(f"{method} {path}: HTTP {response.status_code}: {message}")
        raise AgentRefused(f"{method} {path}: HTTP {response.status_code}: {message}")


def _error_message(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        return f"{error['message']} ({error['code']})"
    except (ValueError, KeyError, TypeError):
        return response.text or response.reason_phrase
