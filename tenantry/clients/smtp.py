"""Sending one message over SMTP, for the worker's mail activity and the API alike.

`smtp_url` is `smtp://[user:pass@]host:port`, `smtps://...` (TLS from the start) or
`smtp+starttls://...`. The Message-ID is the caller's: a stable one lets a receiving
system drop the rare duplicate of a retried send.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage as MimeMessage
from email.utils import formatdate, make_msgid
from urllib.parse import urlparse


class SmtpMailer:
    def __init__(self, smtp_url: str, *, sender: str, timeout: float = 30) -> None:
        parsed = urlparse(smtp_url)
        self._host = parsed.hostname or "127.0.0.1"
        self._port = parsed.port or 25
        self._tls = parsed.scheme == "smtps"
        self._starttls = parsed.scheme == "smtp+starttls"
        self._user, self._password = parsed.username, parsed.password
        self._sender = sender
        self._timeout = timeout

    def send(self, *, to: str, subject: str, body: str, message_id: str | None = None) -> None:
        """Sends one plain-text message; raises `OSError`/`smtplib.SMTPException` on failure."""
        mime = MimeMessage()
        mime["From"] = self._sender
        mime["To"] = to
        mime["Subject"] = subject
        mime["Date"] = formatdate(localtime=False)
        mime["Message-ID"] = message_id or make_msgid("tenantry")
        mime.set_content(body)
        smtp_class = smtplib.SMTP_SSL if self._tls else smtplib.SMTP
        with smtp_class(self._host, self._port, timeout=self._timeout) as smtp:
            if self._starttls:
                smtp.starttls()
            if self._user and self._password:
                smtp.login(self._user, self._password)
            smtp.send_message(mime)
