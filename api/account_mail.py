"""The self-serve sign-up mail, sent after the answer so that answering costs the same
whether or not the address has an account (no enumeration by content or by timing).

An address without an account gets a link that creates one; an address with an account
gets a mail saying so, whose link adds a new API key to that account (key recovery:
whoever reads the mailbox owns the account, and the existing keys keep working). The
token is in the mail only: never in a log line or in the answer. A mail that cannot be
sent is logged by its link's id; the person asks again (a new link, a new mail).
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import uuid
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.repo.verifications import account_by_email
from tenantry.clients.smtp import smtp_mailer
from tenantry.settings import ApiSettings

log = logging.getLogger("tenantry.api.accounts")

VERIFY_PATH = "/v1/accounts/verify"


@dataclass(frozen=True)
class SignupLink:
    """A link just written: its row id (for logs and the Message-ID) and its secret."""

    verification_id: uuid.UUID
    email: str
    token: str
    expires_at: datetime


def verify_link(settings: ApiSettings, token: str) -> str:
    """The page's URL with `#token=...`: in the fragment, which a browser never sends, so
    the token is in no server's access log and no Referer; the page reads it itself."""
    base = settings.account_verify_url or f"{settings.public_url.rstrip('/')}{VERIFY_PATH}"
    return f"{base}#{urlencode({'token': token})}"


def compose(settings: ApiSettings, link: SignupLink, *, has_account: bool) -> tuple[str, str]:
    """(subject, body) of the mail for `link`."""
    url = verify_link(settings, link.token)
    until = f"{link.expires_at:%Y-%m-%d %H:%M} UTC"
    steps = (
        f"Open this link once, before {until}:\n\n    {url}\n\n"
        f"or from a terminal:\n\n"
        f"    tenantry accounts signup --email {link.email} --token {link.token}\n\n"
        f"If you did not ask for this, ignore this mail: nothing happens without the link.\n"
    )
    if has_account:
        return (
            "Your Tenantry account: a new API key",
            f"Someone asked to sign up with {link.email}, which already has a Tenantry "
            f"account. The link below adds a new API key to that account (your other "
            f"keys keep working; revoke any you lost with `tenantry keys revoke`).\n\n" + steps,
        )
    return (
        "Confirm your Tenantry account",
        f"Confirm {link.email} to create your Tenantry account and its first API key.\n\n" + steps,
    )


async def send_signup_mail(
    sessions: async_sessionmaker[AsyncSession], settings: ApiSettings, link: SignupLink
) -> None:
    """Looks up whether the address has an account, then mails the fitting text."""
    async with sessions() as session:
        has_account = await account_by_email(session, link.email) is not None
    subject, body = compose(settings, link, has_account=has_account)
    mailer = smtp_mailer(settings)
    try:
        await asyncio.to_thread(
            mailer.send,
            to=link.email,
            subject=subject,
            body=body,
            message_id=f"<account-verification-{link.verification_id}@tenantry>",
        )
    except (OSError, smtplib.SMTPException) as exc:
        log.warning(
            "sign-up mail for verification %s not sent: %s",
            link.verification_id,
            type(exc).__name__,
        )
