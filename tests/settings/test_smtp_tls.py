"""SMTP over TLS verifies the server, and credentials in the URL are percent-decoded.

A real aiosmtpd server on 127.0.0.1 presents a certificate from a private CA, over
STARTTLS and over SMTPS: the mailer must refuse it with the system's CAs (as it would a
self-signed or intercepted server) and accept it once `TENANTRY_SMTP_CA_FILE` names the
CA. The AUTH the server receives shows what the URL's credentials decode to.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from devstack.procs import free_port
from tenantry.clients.smtp import smtp_mailer
from tenantry.settings import CoreSettings
from tests.settings.certs import Issued, PrivateCa

# Only for SMTPS, where aiosmtpd cannot see the TLS it runs under (see running_server).
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

USER = "mailer@tenantry.example"
PASSWORD = "p@ss:w/rd%?#"


@dataclass
class Recorder:
    """The server side: what AUTH and which messages it received."""

    logins: list[tuple[str, str]] = field(default_factory=list)
    messages: list[bytes] = field(default_factory=list)

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=(data.login.decode(), data.password.decode()) == (USER, PASSWORD))

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> PrivateCa:
    return PrivateCa(tmp_path_factory.mktemp("smtp-ca"))


@pytest.fixture(scope="module")
def server_cert(ca: PrivateCa) -> Issued:
    return ca.issue("smtp", dns=("localhost",), ips=("127.0.0.1",))


def _server_context(cert: Issued) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert.cert, cert.key)
    return context


@dataclass
class Server:
    port: int
    recorder: Recorder


@contextmanager
def running_server(scheme: str, cert: Issued) -> Iterator[Server]:
    """A real TLS SMTP server for `scheme`, presenting `cert`, requiring AUTH over TLS."""
    recorder = Recorder()
    port = free_port()
    # aiosmtpd cannot tell that an SMTPS session is TLS, so it must not insist on it there.
    tls: dict[str, Any] = (
        {"ssl_context": _server_context(cert), "auth_require_tls": False}
        if scheme == "smtps"
        else {"tls_context": _server_context(cert), "require_starttls": True}
    )
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        authenticator=recorder.authenticate,
        auth_required=True,
        **tls,
    )
    controller.start()
    try:
        yield Server(port, recorder)
    finally:
        controller.stop()


@pytest.fixture(params=["smtp+starttls", "smtps"])
def server(request: pytest.FixtureRequest, server_cert: Issued) -> Iterator[tuple[str, Server]]:
    scheme = str(request.param)
    with running_server(scheme, server_cert) as running:
        yield scheme, running


def _settings(url: str, ca_file: Path | None = None) -> CoreSettings:
    return CoreSettings(env="dev", smtp_url=url, smtp_ca_file=ca_file)


def _url(scheme: str, port: int) -> str:
    credentials = f"{quote(USER, safe='')}:{quote(PASSWORD, safe='')}"
    return f"{scheme}://{credentials}@127.0.0.1:{port}"


def test_a_server_certificate_no_trusted_ca_signed_is_refused(server: tuple[str, Server]) -> None:
    scheme, running = server
    mailer = smtp_mailer(_settings(_url(scheme, running.port)), timeout=10)
    with pytest.raises(ssl.SSLCertVerificationError):
        mailer.send(to="owner@example.com", subject="hello", body="never delivered")
    assert running.recorder.logins == []  # the credentials never left the client
    assert running.recorder.messages == []


def test_the_configured_ca_is_trusted_and_credentials_are_decoded(
    server: tuple[str, Server], ca: PrivateCa
) -> None:
    scheme, running = server
    url = _url(scheme, running.port)
    assert "%40" in url and "%3A" in url  # the URL carries them encoded
    mailer = smtp_mailer(_settings(url, ca.cert_path), timeout=10)
    mailer.send(to="owner@example.com", subject="hello", body="delivered over TLS")
    assert running.recorder.logins == [(USER, PASSWORD)]
    assert len(running.recorder.messages) == 1
    assert b"delivered over TLS" in running.recorder.messages[0]


@pytest.mark.parametrize("scheme", ["smtp+starttls", "smtps"])
def test_the_certificate_must_name_the_host(scheme: str, ca: PrivateCa) -> None:
    """A trusted CA is not enough: the certificate must also be for the host we dialled."""
    elsewhere = ca.issue("elsewhere", dns=("mail.elsewhere.example",))
    with running_server(scheme, elsewhere) as running:
        mailer = smtp_mailer(_settings(_url(scheme, running.port), ca.cert_path), timeout=10)
        with pytest.raises(ssl.SSLCertVerificationError, match=r"match|mismatch"):
            mailer.send(to="owner@example.com", subject="hello", body="x")
        assert running.recorder.logins == []
