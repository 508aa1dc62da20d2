"""A typed client for the mail sink's HTTP API (`devstack.smtp`), for tests and scripts.

Mail is sent by workflows some time after the request that causes it, so tests wait for
it: ``Mailbox(url).wait_for(to="a@b.test", subject_contains="Welcome")`` polls until a
matching message arrives or the timeout says what did arrive instead.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field


class MailHeaders(BaseModel):
    model_config = ConfigDict(frozen=True)

    from_: str = Field(alias="from")
    to: str
    cc: str
    subject: str


class Mail(BaseModel):
    """One message the sink accepted; ``to`` are the envelope recipients (Bcc included)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    id: str
    received_at: datetime
    sender: str = Field(alias="from")
    to: list[str]
    headers: MailHeaders
    subject: str
    body: str
    html: str | None = None
    links: list[str] = []

    def link(self, contains: str = "") -> str:
        """The first link in the message containing ``contains`` (e.g. ``"/join"``)."""
        for link in self.links:
            if contains in link:
                return link
        raise LookupError(f"no link containing {contains!r} in {self.subject!r}: {self.links}")


class MailTimeout(AssertionError):
    """No matching message arrived in time (an AssertionError so pytest shows it plainly)."""


class Mailbox:
    """Reads, waits for and clears the messages kept by one mail sink."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Mailbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _params(to: str | None, subject_contains: str | None) -> dict[str, str]:
        params: dict[str, str] = {}
        if to:
            params["to"] = to
        if subject_contains:
            params["subject_contains"] = subject_contains
        return params

    def messages(self, to: str | None = None, subject_contains: str | None = None) -> list[Mail]:
        """Messages kept so far, oldest first, optionally only those to one address."""
        response = self._http.get("/messages", params=self._params(to, subject_contains))
        response.raise_for_status()
        return [Mail.model_validate(m) for m in response.json()]

    def clear(self) -> int:
        response = self._http.delete("/messages")
        response.raise_for_status()
        return int(response.json()["deleted"])

    def wait_for(
        self,
        *,
        to: str | None = None,
        subject_contains: str | None = None,
        timeout: float = 10.0,
        count: int = 1,
    ) -> Mail:
        """Polls until ``count`` matching messages are kept; returns the newest of them."""
        deadline = time.monotonic() + timeout
        delay = 0.02
        while True:
            found = self.messages(to=to, subject_contains=subject_contains)
            if len(found) >= count:
                return found[-1]
            if time.monotonic() >= deadline:
                raise MailTimeout(self._timeout_message(to, subject_contains, timeout))
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)

    async def wait_for_async(
        self,
        *,
        to: str | None = None,
        subject_contains: str | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - on timeout we report what did arrive
        count: int = 1,
    ) -> Mail:
        """`wait_for` for async tests: polls without blocking the event loop."""
        deadline = time.monotonic() + timeout
        delay = 0.02
        params = self._params(to, subject_contains)
        async with httpx.AsyncClient(base_url=self.url, timeout=10.0) as http:
            while True:
                response = await http.get("/messages", params=params)
                response.raise_for_status()
                found = [Mail.model_validate(m) for m in response.json()]
                if len(found) >= count:
                    return found[-1]
                if time.monotonic() >= deadline:
                    raise MailTimeout(self._timeout_message(to, subject_contains, timeout))
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, 0.25)

    def _timeout_message(self, to: str | None, subject_contains: str | None, timeout: float) -> str:
        kept: list[Any] = [(m.to, m.subject) for m in self.messages()]
        return (
            f"no mail to={to!r} subject_contains={subject_contains!r} within {timeout}s; "
            f"the sink holds {len(kept)}: {kept}"
        )
