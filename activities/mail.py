"""Mail over SMTP, at most once per dedupe key.

SMTP has no idempotency, so a sent message is recorded in the audit log under its
dedupe key and a retry finds it there; the Message-ID is derived from the same key so a
receiving system can drop the rare duplicate of a crash between send and record.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from db.models import AuditLogEntry
from tenantry.clients.smtp import SmtpMailer
from tenantry.contracts.signup import EmailMessage


class MailActivities:
    def __init__(self, mailer: SmtpMailer, *, sessions: sessionmaker[Session]) -> None:
        self._mailer = mailer
        self._sessions = sessions

    @activity.defn
    def send_email(self, message: EmailMessage) -> bool:
        """Sends `message`; False when its dedupe key shows it was sent already."""
        target = f"mail:{message.dedupe_key}" if message.dedupe_key else None
        if target and self._already_sent(target):
            return False
        self._mailer.send(
            to=message.to,
            subject=message.subject,
            body=message.body,
            message_id=f"<{message.dedupe_key}@tenantry>" if message.dedupe_key else None,
        )
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
