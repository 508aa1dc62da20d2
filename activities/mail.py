"""Mail over SMTP, at most once per dedupe key.

SMTP has no idempotency, so a sent message is recorded in the audit log under its
dedupe key and a retry finds it there; the Message-ID is derived from the same key so a
receiving system can drop the rare duplicate of a crash between send and record.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage as MimeMessage
from email.utils import formatdate, make_msgid
from urllib.parse import urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from db.models import AuditLogEntry
from tenantry.contracts import EmailMessage


class MailActivities:
    def __init__(self, smtp_url: str, *, sender: str, sessions: sessionmaker[Session]) -> None:
        parsed = urlparse(smtp_url)
        self._host = parsed.hostname or "127.0.0.1"
        self._port = parsed.port or 25
        self._tls = parsed.scheme == "smtps"
        self._starttls = parsed.scheme == "smtp+starttls"
        self._user, self._password = parsed.username, parsed.password
        self._sender = sender
        self._sessions = sessions

    @activity.defn
    def send_email(self, message: EmailMessage) -> bool:
        """Sends `message`; False when its dedupe key shows it was sent already."""
        target = f"mail:{message.dedupe_key}" if message.dedupe_key else None
        if target and self._already_sent(target):
            return False
        mime = MimeMessage()
        mime["From"] = self._sender
        mime["To"] = message.to
        mime["Subject"] = message.subject
        mime["Date"] = formatdate(localtime=False)
        mime["Message-ID"] = (
            f"<{message.dedupe_key}@tenantry>" if message.dedupe_key else make_msgid("tenantry")
        )
        mime.set_content(message.body)
        smtp_class = smtplib.SMTP_SSL if self._tls else smtplib.SMTP
        with smtp_class(self._host, self._port, timeout=30) as smtp:
            if self._starttls:
                smtp.starttls()
            if self._user and self._password:
                smtp.login(self._user, self._password)
            smtp.send_message(mime)
        if target:
            with self._sessions() as session:
                session.add(AuditLogEntry(actor="system", action="mail.sent", target=target))
                session.commit()
        return True

    def _already_sent(self, target: str) -> bool:
        with self._sessions() as session:
            found = session.scalar(
                select(AuditLogEntry.id)
                .where(AuditLogEntry.target == target, AuditLogEntry.action == "mail.sent")
                .limit(1)
            )
        return found is not None
