"""The local mail sink: a real SMTP server that keeps every message, and an HTTP API to read them.

The product sends mail over plain SMTP (``TENANTRY_SMTP_URL``); in `tenantry dev` and in
tests that goes to this aiosmtpd server, which accepts everything and delivers nothing.
Each message is written to ``<mail_dir>/<id>.eml`` (with the envelope in ``X-Envelope-*``
headers, so a restart loses nothing) and kept in memory. A small JSON API lets tests and
developers read them (see `devstack.mailbox` for the client):

    GET    /healthz
    GET    /messages?to=ADDR&subject_contains=TEXT   -> [message, ...] oldest first
    GET    /messages/{id}                            -> message
    GET    /messages/{id}/raw                        -> the .eml as sent
    DELETE /messages                                 -> {"deleted": n}
    DELETE /messages/{id}

A message is ``{id, received_at, from, to, headers: {from, to, cc, subject}, subject,
body, html, links}``; ``to`` holds the envelope recipients (Bcc included).

Run it with ``python -m devstack.smtp --host 127.0.0.1 --smtp-port 1025 --api-port 8025
--mail-dir .tenantry/mail``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email
import email.policy
import re
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

from devstack.procs import ManagedProcess, http_ready

_ENVELOPE_FROM = "X-Envelope-From"
_ENVELOPE_TO = "X-Envelope-To"
_LINK = re.compile(r"https?://[^\s<>\"')\]]+")


@dataclass
class StoredMessage:
    """One accepted message: its envelope and the bytes as they arrived."""

    id: str
    received_at: datetime
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    def parsed(self) -> EmailMessage:
        message = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message

    def recipients(self) -> set[str]:
        """Every address the message went to: envelope, To and Cc, lower-cased."""
        message = self.parsed()
        headers = [str(v) for v in message.get_all("To", []) + message.get_all("Cc", [])]
        addresses = {addr for _, addr in getaddresses(headers)} | set(self.rcpt_tos)
        return {a.strip().lower() for a in addresses if a}

    def to_json(self) -> dict[str, Any]:
        message = self.parsed()
        body = _part_text(message, "plain")
        html = _part_text(message, "html")
        links = list(dict.fromkeys(_LINK.findall(body or "") + _LINK.findall(html or "")))
        return {
            "id": self.id,
            "received_at": self.received_at.isoformat(),
            "from": self.mail_from,
            "to": self.rcpt_tos,
            "headers": {
                "from": str(message.get("From", "")),
                "to": str(message.get("To", "")),
                "cc": str(message.get("Cc", "")),
                "subject": str(message.get("Subject", "")),
            },
            "subject": str(message.get("Subject", "")),
            "body": body or "",
            "html": html,
            "links": links,
        }

    def to_eml(self) -> bytes:
        envelope = (
            f"{_ENVELOPE_FROM}: {self.mail_from}\r\n{_ENVELOPE_TO}: {', '.join(self.rcpt_tos)}\r\n"
        )
        return envelope.encode() + self.raw

    @classmethod
    def from_eml(cls, path: Path) -> StoredMessage:
        data = path.read_bytes()
        mail_from, rcpt_tos = "", []
        # The two envelope lines we prepend come first; strip them to get the original.
        while True:
            line, sep, rest = data.partition(b"\r\n")
            if not sep:
                break
            text = line.decode(errors="replace")
            if text.startswith(_ENVELOPE_FROM + ":"):
                mail_from = text.split(":", 1)[1].strip()
            elif text.startswith(_ENVELOPE_TO + ":"):
                rcpt_tos = [a.strip() for a in text.split(":", 1)[1].split(",") if a.strip()]
            else:
                break
            data = rest
        received = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        return cls(path.stem, received, mail_from, rcpt_tos, data)


def _part_text(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        return None
    content = part.get_content()
    return content if isinstance(content, str) else None


class MailStore:
    """Messages in arrival order, mirrored to ``mail_dir`` as .eml files."""

    def __init__(self, mail_dir: Path) -> None:
        self.mail_dir = mail_dir
        mail_dir.mkdir(parents=True, exist_ok=True)
        self.messages: dict[str, StoredMessage] = {}
        for path in sorted(mail_dir.glob("*.eml")):
            with contextlib.suppress(OSError):
                message = StoredMessage.from_eml(path)
                self.messages[message.id] = message

    async def add(self, mail_from: str, rcpt_tos: list[str], raw: bytes) -> StoredMessage:
        # Time first in the id so that file names sort in arrival order across restarts.
        message_id = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        message = StoredMessage(message_id, datetime.now(UTC), mail_from, rcpt_tos, raw)
        self.messages[message_id] = message
        await asyncio.to_thread((self.mail_dir / f"{message_id}.eml").write_bytes, message.to_eml())
        return message

    def find(self, *, to: str | None, subject_contains: str | None) -> list[StoredMessage]:
        found = list(self.messages.values())
        if to:
            found = [m for m in found if to.strip().lower() in m.recipients()]
        if subject_contains:
            needle = subject_contains.lower()
            found = [m for m in found if needle in str(m.parsed().get("Subject", "")).lower()]
        return found

    async def delete(self, message_id: str | None = None) -> int:
        ids = list(self.messages) if message_id is None else [message_id]
        removed = 0
        for mid in ids:
            if self.messages.pop(mid, None) is not None:
                removed += 1
            with contextlib.suppress(FileNotFoundError):
                await asyncio.to_thread((self.mail_dir / f"{mid}.eml").unlink)
        return removed


class SinkHandler:
    """aiosmtpd handler: accept every recipient, keep every message."""

    def __init__(self, store: MailStore) -> None:
        self.store = store

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode()
        await self.store.add(envelope.mail_from or "", list(envelope.rcpt_tos), raw)
        return "250 Message accepted for delivery"


def build_api(store: MailStore) -> web.Application:
    routes = web.RouteTableDef()

    @routes.get("/healthz")
    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "messages": len(store.messages)})

    @routes.get("/messages")
    async def list_messages(request: web.Request) -> web.Response:
        found = store.find(
            to=request.query.get("to"), subject_contains=request.query.get("subject_contains")
        )
        return web.json_response([m.to_json() for m in found])

    @routes.delete("/messages")
    async def clear(request: web.Request) -> web.Response:
        return web.json_response({"deleted": await store.delete()})

    def _get(request: web.Request) -> StoredMessage:
        message = store.messages.get(request.match_info["message_id"])
        if message is None:
            raise web.HTTPNotFound(
                text='{"error": {"code": "not_found", "message": "no such message"}}',
                content_type="application/json",
            )
        return message

    @routes.get("/messages/{message_id}")
    async def get_message(request: web.Request) -> web.Response:
        return web.json_response(_get(request).to_json())

    @routes.get("/messages/{message_id}/raw")
    async def get_raw(request: web.Request) -> web.Response:
        return web.Response(body=_get(request).raw, content_type="message/rfc822")

    @routes.delete("/messages/{message_id}")
    async def delete_message(request: web.Request) -> web.Response:
        _get(request)
        return web.json_response({"deleted": await store.delete(request.match_info["message_id"])})

    app = web.Application()
    app.add_routes(routes)
    return app


async def serve(host: str, smtp_port: int, api_port: int, mail_dir: Path) -> None:
    """Runs the SMTP server and the HTTP API on one event loop until SIGTERM/SIGINT."""
    store = MailStore(mail_dir)
    loop = asyncio.get_running_loop()
    handler = SinkHandler(store)
    # An explicit hostname: the default asks DNS for our FQDN, which can hang offline.
    smtp_server = await loop.create_server(
        lambda: SMTP(handler, hostname="tenantry-mail-sink", enable_SMTPUTF8=True),
        host=host,
        port=smtp_port,
    )
    runner = web.AppRunner(build_api(store), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, api_port).start()
    print(
        f"mail sink: smtp://{host}:{smtp_port} api http://{host}:{api_port}/messages "
        f"({len(store.messages)} kept in {mail_dir})",
        flush=True,
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        smtp_server.close()
        await smtp_server.wait_closed()
        await runner.cleanup()


def smtp_process(
    *,
    host: str,
    smtp_port: int,
    api_port: int,
    mail_dir: Path,
    log_path: Path,
    ready_timeout: float = 30.0,
) -> ManagedProcess:
    """The sink as a child process, ready when its API answers (after SMTP is bound)."""
    return ManagedProcess(
        name="smtp",
        argv=[
            sys.executable,
            "-m",
            "devstack.smtp",
            "--host",
            host,
            "--smtp-port",
            str(smtp_port),
            "--api-port",
            str(api_port),
            "--mail-dir",
            str(mail_dir),
        ],
        log_path=log_path,
        ready=http_ready(f"http://{host}:{api_port}/healthz", accept=lambda s: s == 200),
        ready_timeout=ready_timeout,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack.smtp", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--api-port", type=int, default=8025)
    parser.add_argument("--mail-dir", type=Path, default=Path(".tenantry/mail"))
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.smtp_port, args.api_port, args.mail_dir))


if __name__ == "__main__":
    main()
