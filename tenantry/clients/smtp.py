"""Sending one message over SMTP, for the worker's mail activity and the API alike.

`smtp_url` is `smtp://[user:pass@]host:port`, `smtps://...` (TLS from the start) or
`smtp+starttls://...`. A user or password holding `@`, `:` or `/` is percent-encoded in
the URL (`p%40ss`) and decoded here, as URLs require. TLS always verifies the server's
certificate and name, against the system's CAs or `ca_file` (a private CA): mail carries
signup links and invite tokens, so a server we cannot authenticate gets nothing.
The Message-ID is the caller's: a stable one lets a receiving system drop the rare
duplicate of a retried send.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage as MimeMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlparse

from tenantry.settings import CoreSettings


class SmtpMailer:
    def __init__(
        self,
        smtp_url: str,
        *,
        sender: str,
        timeout: float = 30,
        ca_file: Path | None = None,
    ) -> None:
        parsed = urlparse(smtp_url)
        self._host = parsed.hostname or "127.0.0.1"
        self._tls = parsed.scheme == "smtps"
        self._starttls = parsed.scheme == "smtp+starttls"
        self._port = parsed.port or (465 if self._tls else 587 if self._starttls else 25)
        self._user = unquote(parsed.username) if parsed.username else None
        self._password = unquote(parsed.password) if parsed.password else None
        self._sender = sender
        self._timeout = timeout
        self._ca_file = ca_file

    def _tls_context(self) -> ssl.SSLContext:
        """Verifies the certificate chain and the host name (Python's default context)."""
        return ssl.create_default_context(cafile=self._ca_file)

    def _connect(self) -> smtplib.SMTP:
        if self._tls:
            return smtplib.SMTP_SSL(
                self._host, self._port, timeout=self._timeout, context=self._tls_context()
            )
        smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        if self._starttls:
            try:
                smtp.starttls(context=self._tls_context())
            except BaseException:
                smtp.close()
                raise
        return smtp

    def login(self) -> None:
        """Connects and authenticates, sending nothing (what `tenantry doctor` checks)."""
        with self._connect() as smtp:
            if self._user and self._password:
                smtp.login(self._user, self._password)
            else:
                smtp.noop()

    def send(self, *, to: str, subject: str, body: str, message_id: str | None = None) -> None:
        """Sends one plain-text message; raises `OSError`/`smtplib.SMTPException` on failure."""
        mime = MimeMessage()
        mime["From"] = self._sender
        mime["To"] = to
        mime["Subject"] = subject
        mime["Date"] = formatdate(localtime=False)
        mime["Message-ID"] = message_id or make_msgid("tenantry")
        mime.set_content(body)
        with self._connect() as smtp:
            if self._user and self._password:
                smtp.login(self._user, self._password)
            smtp.send_message(mime)


def smtp_mailer(settings: CoreSettings, *, timeout: float = 30) -> SmtpMailer:
    """The mailer the settings describe (URL, sender, private CA)."""
    return SmtpMailer(
        settings.smtp_url, sender=settings.mail_from, timeout=timeout, ca_file=settings.smtp_ca_file
    )
