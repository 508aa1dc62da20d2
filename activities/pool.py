"""The warm pool of tenant servers: create and retire pool servers, and a signup's claim.

Every step is safe to repeat and to stop anywhere:
- a pool server's row (with its host key) is written before its server is created, and
  the server's name is the key of the create (adopted when it exists), so a crashed
  create is finished by its retry or removed by `pool_delete_server_if_present`;
- a claim is one transaction: the oldest `ready` row is locked (`SKIP LOCKED`, so two
  signups never get the same one), marked `claimed` by the signup, its host key becomes
  the tenant's, and a `pool_claims` row keyed by the signup id records the answer, so a
  retried claim returns the same server (or the same miss);
- rename, labels and personalisation converge when repeated; a signup that fails after
  its claim releases the server with `pool_release_if_present` (by server id: its name
  may be the pool's or the tenant's by then). Nothing deletes a `claimed` row's server
  but its own signup's release.

Host keys and the tenant's secrets are read here from the database, never passed in.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from hcloud import APIException, Client
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import from_hetzner
from activities.hetzner import HetznerActivities
from activities.secrets_gen import ed25519_keypair
from activities.tenant_ssh import run_pinned
from activities.userdata import tenant_stack_env
from db.models import PoolClaim as PoolClaimRow
from db.models import PoolServer, Tenant
from tenantry.contracts.common import ErrorType
from tenantry.contracts.pool import (
    POOL_LABEL,
    PoolCensus,
    PoolClaim,
    PoolClaimInput,
    PoolKey,
    PoolPrepareInput,
    PoolReleaseInput,
    PoolServerRef,
    PoolServerSpec,
)
from tenantry.contracts.signup import ServerInfo, ServerRef, ServerSpec

HetznerFor = Callable[[str], HetznerActivities]
"""The Hetzner activities (with pool user data) that create servers at one location;
the location does not matter for a delete by name."""


ANY_LOCATION = ""


def pool_labels(key: PoolKey) -> dict[str, str]:
    return {
        "tenantry/managed": "true",
        POOL_LABEL: "true",
        "tenantry/tier": key.tier,
        "tenantry/location": key.location,
    }


class PoolActivities:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        client: Client,
        *,
        hetzner_for: HetznerFor,
        ssh_key_path: Path,
        base_domain: str,
        poll_interval: float = 1.0,
        ssh_user: str = "root",
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._hetzner_for = hetzner_for
        self._ssh_key_path = ssh_key_path
        self._base_domain = base_domain
        self._poll = poll_interval
        self._ssh_user = ssh_user

    # -- the pool's side ----------------------------------------------------------------
    @activity.defn
    def pool_census(self, key: PoolKey) -> PoolCensus:
        with self._sessions() as session:
            by_status = dict(
                session.execute(
                    select(PoolServer.status, func.count())
                    .where(PoolServer.tier == key.tier, PoolServer.location == key.location)
                    .group_by(PoolServer.status)
                ).all()
            )
            hits, misses = session.execute(
                select(
                    func.count(PoolClaimRow.server_name),
                    func.count().filter(PoolClaimRow.server_name.is_(None)),
                ).where(PoolClaimRow.tier == key.tier, PoolClaimRow.location == key.location)
            ).one()
        return PoolCensus(
            ready=by_status.get("ready", 0),
            creating=by_status.get("creating", 0),
            claims=hits,
            misses=misses,
        )

    @activity.defn
    def pool_create_server(self, spec: PoolServerSpec) -> bool:
        """Creates one pool server and waits until it has booted; True once it is `ready`
        (False if it was claimed or retired meanwhile: nothing left to do)."""
        with self._sessions() as session:
            private, public = ed25519_keypair(spec.name)
            session.execute(
                insert(PoolServer)
                .values(
                    name=spec.name,
                    tier=spec.key.tier,
                    location=spec.key.location,
                    status="creating",
                    secrets=_keys_json(private, public),
                )
                .on_conflict_do_nothing(index_elements=[PoolServer.name])
            )
            session.commit()
            row = session.get(PoolServer, spec.name)
            assert row is not None and row.secrets is not None
            if row.status != "creating":
                return row.status == "ready"
            host_key = str(row.secrets["ssh_host_public_key"])
        info = self._hetzner_for(spec.key.location).create_server(
            ServerSpec(
                name=spec.name,
                tenant_id="",
                subdomain="",
                server_type=spec.server_type,
                labels=pool_labels(spec.key),
            )
        )
        self._update(spec.name, "creating", server_id=info.server_id, server_ip=info.ipv4)
        self._wait_booted(info.ipv4, host_key, spec.name)
        return self._update(spec.name, "creating", status="ready", ready_at=_now())

    @activity.defn
    def pool_delete_server_if_present(self, ref: PoolServerRef) -> bool:
        """Deletes an unclaimed pool server and its row (a failed create's undo)."""
        with self._sessions() as session:
            row = session.get(PoolServer, ref.name, with_for_update=True)
            if row is not None and row.status == "claimed":
                return False
            if row is not None:
                row.status = "retiring"
                session.commit()
        deleted = self._hetzner_for(ANY_LOCATION).delete_server_if_present(ServerRef(name=ref.name))
        self._delete_row(ref.name)
        return deleted

    @activity.defn
    def pool_retire_server(self, key: PoolKey) -> str | None:
        """Shrinks the pool by one ready server (the newest); its name, or None."""
        with self._sessions() as session:
            row = session.scalar(
                select(PoolServer)
                .where(
                    PoolServer.tier == key.tier,
                    PoolServer.location == key.location,
                    PoolServer.status == "ready",
                )
                .order_by(PoolServer.ready_at.desc())
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if row is None:
                return None
            row.status = "retiring"
            name = row.name
            session.commit()
        self._hetzner_for(ANY_LOCATION).delete_server_if_present(ServerRef(name=name))
        self._delete_row(name)
        return name

    # -- a signup's side ----------------------------------------------------------------
    @activity.defn
    def pool_claim_server(self, inp: PoolClaimInput) -> PoolClaim:
        """Claims the oldest ready server of the pool for this signup, once."""
        signup_id = uuid.UUID(inp.signup_id)
        for _ in range(2):
            with self._sessions() as session:
                answered = self._answered(session, signup_id)
                if answered is not None:
                    return answered
                try:
                    claim = self._claim(session, inp, signup_id)
                    session.commit()
                    return claim
                except IntegrityError:
                    session.rollback()  # a concurrent attempt of the same signup won
        raise ApplicationError(f"claim of signup {inp.signup_id} did not settle", type="Internal")

    def _answered(self, session: Session, signup_id: uuid.UUID) -> PoolClaim | None:
        earlier = session.get(PoolClaimRow, signup_id)
        if earlier is None:
            return None
        row = session.scalar(select(PoolServer).where(PoolServer.signup_id == signup_id))
        return _claim_of(row) if row is not None else PoolClaim()

    def _claim(self, session: Session, inp: PoolClaimInput, signup_id: uuid.UUID) -> PoolClaim:
        tenant = session.get(Tenant, uuid.UUID(inp.tenant_id), with_for_update=True)
        if tenant is None or not tenant.secrets:
            raise ApplicationError(
                f"tenant {inp.tenant_id} has no secrets yet",
                type=ErrorType.NOT_FOUND,
                non_retryable=True,
            )
        row = session.scalar(
            select(PoolServer)
            .where(
                PoolServer.tier == inp.key.tier,
                PoolServer.location == inp.key.location,
                PoolServer.status == "ready",
            )
            .order_by(PoolServer.ready_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        session.add(
            PoolClaimRow(
                signup_id=signup_id,
                tier=inp.key.tier,
                location=inp.key.location,
                server_name=row.name if row is not None else None,
            )
        )
        if row is None:
            session.flush()
            return PoolClaim()
        assert row.secrets is not None
        row.status, row.signup_id, row.claimed_at = "claimed", signup_id, _now()
        row.tenant_id = tenant.id
        # The server's host key becomes the tenant's: later SSH (rollouts, suspend) pins it.
        tenant.secrets = {
            **tenant.secrets,
            "ssh_host_private_key": row.secrets["ssh_host_private_key"],
            "ssh_host_public_key": row.secrets["ssh_host_public_key"],
        }
        session.flush()
        return _claim_of(row)

    @activity.defn
    def pool_prepare_server(self, inp: PoolPrepareInput) -> ServerInfo:
        """Renames and labels the claimed server as the tenant's, then personalises it
        over SSH (the stack's secrets from stdin, its hostname, the stack started)."""
        with self._sessions() as session:
            row = session.scalar(
                select(PoolServer).where(PoolServer.signup_id == uuid.UUID(inp.signup_id))
            )
            tenant = session.get(Tenant, uuid.UUID(inp.tenant_id))
        if row is None or row.server_id is None or row.server_ip is None:
            raise ApplicationError(
                f"signup {inp.signup_id} holds no pool server",
                type=ErrorType.NOT_FOUND,
                non_retryable=True,
            )
        if tenant is None or not tenant.secrets:
            raise ApplicationError(
                f"tenant {inp.tenant_id} has no secrets",
                type=ErrorType.NOT_FOUND,
                non_retryable=True,
            )
        try:
            server = self._client.servers.get_by_id(row.server_id)
            if server.name != inp.name or (server.labels or {}) != inp.labels:
                self._client.servers.update(server, name=inp.name, labels=inp.labels)
        except APIException as exc:
            raise from_hetzner(exc, f"rename pool server {row.name} to {inp.name}") from exc
        activity.heartbeat("renamed")
        env = tenant_stack_env(
            inp.tenant_id, f"{inp.subdomain}.{self._base_domain}", dict(tenant.secrets)
        )
        result = asyncio.run(
            run_pinned(
                row.server_ip,
                str(tenant.secrets["ssh_host_public_key"]),
                f"tenantry-stack personalise {inp.name}",
                client_key=self._ssh_key_path,
                user=self._ssh_user,
                command_timeout=120,
                stdin="".join(f"{k}={v}\n" for k, v in sorted(env.items())),
            )
        )
        if result.exit_status != 0:
            raise ApplicationError(
                f"personalising {inp.name} failed: {result.stderr!s}", type="StackCommandFailed"
            )
        return ServerInfo(
            server_id=row.server_id, name=inp.name, ipv4=row.server_ip, status="running"
        )

    @activity.defn
    def pool_release_if_present(self, inp: PoolReleaseInput) -> bool:
        """A failed signup's undo of its claim: deletes the server it claimed (by id, under
        whichever name it has now) and the pool row; False when it claimed none."""
        with self._sessions() as session:
            row = session.scalar(
                select(PoolServer).where(PoolServer.signup_id == uuid.UUID(inp.signup_id))
            )
            if row is None:
                return False
            name, server_id = row.name, row.server_id
        if server_id is not None:
            try:
                server = self._client.servers.get_by_id(server_id)
            except APIException as exc:
                if exc.code != "not_found":
                    raise from_hetzner(exc, f"look up server {server_id}") from exc
            else:
                self._hetzner_for(ANY_LOCATION).delete_server_if_present(
                    ServerRef(name=str(server.name))
                )
        self._delete_row(name)
        return True

    # -- helpers ----------------------------------------------------------------------
    def _wait_booted(self, ip: str, host_key: str, name: str) -> None:
        """Until cloud-init has finished (the stack's image is there), with the host key
        pinned; heartbeats while it waits."""
        last = "no answer yet"
        while True:
            try:
                result = asyncio.run(
                    run_pinned(
                        ip,
                        host_key,
                        "cloud-init status",
                        client_key=self._ssh_key_path,
                        user=self._ssh_user,
                        connect_timeout=5,
                        command_timeout=30,
                    )
                )
                last = str(result.stdout).strip()
                if result.exit_status == 0 and last == "status: done":
                    return
            except ApplicationError as exc:
                if exc.non_retryable:
                    raise
                last = str(exc)
            activity.heartbeat(f"{name}: {last}")
            time.sleep(self._poll)

    def _update(self, name: str, expected: str, **values: object) -> bool:
        """Sets `values` on the row if it is still `expected`; whether it was."""
        with self._sessions() as session:
            row = session.get(PoolServer, name, with_for_update=True)
            if row is None or row.status != expected:
                return False
            for key, value in values.items():
                setattr(row, key, value)
            session.commit()
            return True

    def _delete_row(self, name: str) -> None:
        """Callers have made sure the row is theirs to delete (retiring, or released)."""
        with self._sessions() as session:
            row = session.get(PoolServer, name, with_for_update=True)
            if row is not None:
                session.delete(row)
            session.commit()


def _claim_of(row: PoolServer) -> PoolClaim:
    assert row.server_id is not None and row.server_ip is not None and row.secrets is not None
    return PoolClaim(
        server=ServerInfo(
            server_id=row.server_id, name=row.name, ipv4=row.server_ip, status="running"
        ),
        host_public_key=str(row.secrets["ssh_host_public_key"]),
    )


def _keys_json(private: str, public: str) -> dict[str, str]:
    return {"ssh_host_private_key": private, "ssh_host_public_key": public}


def _now() -> datetime:
    return datetime.now(UTC)
