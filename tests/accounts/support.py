"""What the self-serve account tests share: an API on the mail sink, and reading links."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from devstack.mailbox import Mail, Mailbox
from tenantry.settings import ApiSettings
from tests.fixtures.api import RunningApi, api_settings

TOKEN = re.compile(r"\btver_[A-Za-z0-9_-]{20,}")

StartApi = Callable[..., RunningApi]


@pytest.fixture
def accounts_api(
    make_api: Callable[[ApiSettings], RunningApi],
    database_url: str,
    temporal_address: str,
    smtp_url: str,
) -> StartApi:
    """APIs on one fresh database and the test mail sink; settings may differ per API
    (each API has its own rate limiters)."""

    def start(**values: object) -> RunningApi:
        settings = {
            "database_url": database_url,
            "temporal_address": temporal_address,
            "smtp_url": smtp_url,
            **values,
        }
        return make_api(api_settings(**settings))

    return start


def request_link(api: RunningApi, email: str) -> httpx.Response:
    with api.client() as http:
        return http.post("/v1/accounts", json={"email": email})


def token_from(mail: Mail) -> str:
    """The token of the mail's link (`#token=`), checked against the one in its text."""
    link = mail.link("token=")
    token = parse_qs(urlparse(link).fragment)["token"][0]
    found = TOKEN.search(mail.body)
    assert found and found.group(0) == token, mail.body
    return token


def mailed_token(mailbox: Mailbox, email: str, *, count: int = 1, timeout: float = 10) -> str:
    mail = mailbox.wait_for(to=email, subject_contains="Tenantry", count=count, timeout=timeout)
    return token_from(mail)


def verify(api: RunningApi, token: str) -> httpx.Response:
    with api.client() as http:
        return http.post("/v1/accounts/verify", json={"token": token})
