"""The Temporal client speaks TLS as the settings say: mTLS with a private CA and a
server name other than the address, TLS alone for an API key, plain text otherwise.

A real TLS listener stands in for a Temporal frontend: it demands a client certificate
from our CA and records the handshake (server name asked for, certificate shown) before
hanging up, so the connect fails after the part under test succeeded.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from tenantry.clients.temporal import connect, tls_config
from tenantry.settings import CoreSettings
from tests.settings.certs import PrivateCa

SERVER_NAME = "temporal.tenantry.internal"


@dataclass
class Handshakes:
    server_names: list[str | None] = field(default_factory=list)
    client_subjects: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class FakeFrontend:
    address: str
    seen: Handshakes


@pytest.fixture
def ca(tmp_path: Path) -> PrivateCa:
    return PrivateCa(tmp_path)


@pytest.fixture
def frontend(ca: PrivateCa) -> Iterator[FakeFrontend]:
    cert = ca.issue("frontend", dns=(SERVER_NAME,))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert.cert, cert.key)
    context.load_verify_locations(ca.cert_path)
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["h2"])
    seen = Handshakes()
    context.sni_callback = lambda sock, name, ctx: seen.server_names.append(name)  # type: ignore[assignment,func-returns-value]
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                with context.wrap_socket(raw, server_side=True) as tls:
                    peer = tls.getpeercert() or {}
                    subject = dict(x[0] for x in peer.get("subject", ()))
                    seen.client_subjects.append(str(subject.get("commonName")))
            except (ssl.SSLError, OSError) as exc:
                seen.errors.append(str(exc))
                raw.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield FakeFrontend(f"127.0.0.1:{listener.getsockname()[1]}", seen)
    finally:
        stop.set()
        thread.join(5)
        listener.close()


async def _try_connect(settings: CoreSettings) -> None:
    with pytest.raises(Exception):  # noqa: B017 - the fake frontend speaks no gRPC
        await asyncio.wait_for(connect(settings), 20)


def test_mtls_with_a_private_ca_and_a_server_name(ca: PrivateCa, frontend: FakeFrontend) -> None:
    client = ca.issue("worker", dns=("worker",), client=True)
    settings = CoreSettings(
        env="dev",
        temporal_address=frontend.address,
        temporal_tls_ca_path=ca.cert_path,
        temporal_tls_cert_path=client.cert,
        temporal_tls_key_path=client.key,
        temporal_tls_server_name=SERVER_NAME,
    )
    asyncio.run(_try_connect(settings))
    assert SERVER_NAME in frontend.seen.server_names
    assert "worker" in frontend.seen.client_subjects  # our client certificate was shown


def test_without_our_ca_the_private_server_is_not_trusted(
    ca: PrivateCa, frontend: FakeFrontend
) -> None:
    client = ca.issue("worker", dns=("worker",), client=True)
    settings = CoreSettings(
        env="dev",
        temporal_address=frontend.address,
        temporal_tls_cert_path=client.cert,
        temporal_tls_key_path=client.key,
        temporal_tls_server_name=SERVER_NAME,
    )
    asyncio.run(_try_connect(settings))
    assert frontend.seen.client_subjects == []  # the client gave up during the handshake
    assert SERVER_NAME in frontend.seen.server_names
    deadline = time.monotonic() + 5  # the listener's thread records the failure a bit later
    while not frontend.seen.errors and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any("unknown ca" in error.lower() for error in frontend.seen.errors), frontend.seen


def test_tls_settings() -> None:
    assert tls_config(CoreSettings(env="dev")) is False
    api_key_only = tls_config(CoreSettings(env="dev", temporal_api_key="key"))
    assert isinstance(api_key_only, TLSConfig)
    assert api_key_only.client_cert is None and api_key_only.server_root_ca_cert is None
    assert isinstance(tls_config(CoreSettings(env="dev", temporal_tls=True)), TLSConfig)
    # Empty variables (a deployment's `X=` lines) are unset, not a path "." or a key "".
    empty = CoreSettings(env="dev", temporal_tls_ca_path="", temporal_api_key="")  # type: ignore[arg-type]
    assert tls_config(empty) is False


def test_half_an_mtls_pair_or_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="TENANTRY_TEMPORAL_TLS_KEY_PATH"):
        CoreSettings(env="dev", temporal_tls_cert_path=tmp_path / "c.pem")
    with pytest.raises(ValueError, match=r"TENANTRY_TEMPORAL_TLS_CA_PATH=.*missing\.pem"):
        tls_config(CoreSettings(env="dev", temporal_tls_ca_path=tmp_path / "missing.pem"))
