"""Self-serve accounts: an address gets a one-time link by mail and spends it for a key.

Through the real API (uvicorn), PostgreSQL and the SMTP sink, as a person would.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text

from db.session import make_engine
from devstack.mailbox import Mailbox
from tenantry.crypto import hash_secret
from tests.accounts.support import StartApi, mailed_token, request_link, verify
from tests.api.test_auth_and_health import assert_error
from tests.fixtures.api import RunningApi


def _keys(api: RunningApi, key: str) -> list[dict[str, object]]:
    with api.client(key) as http:
        response = http.get("/v1/keys")
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def test_signup_by_email_verifies_once_and_the_key_works(
    accounts_api: StartApi, mailbox: Mailbox, database_url: str
) -> None:
    api = accounts_api(account_verify_url="https://app.example.test/confirm")
    accepted = request_link(api, "New.Person@Example.com")
    assert accepted.status_code == 202, accepted.text
    assert "tver_" not in accepted.text  # the token travels by mail only

    mail = mailbox.wait_for(to="new.person@example.com", subject_contains="Confirm")
    assert mail.link("token=").startswith("https://app.example.test/confirm#token=tver_")
    token = mailed_token(mailbox, "new.person@example.com")

    # Only the token's digest is stored.
    engine = make_engine(database_url)
    with engine.connect() as db:
        rows = db.execute(text("SELECT * FROM account_verifications")).mappings().all()
    engine.dispose()
    assert [row["token_hash"] for row in rows] == [hash_secret(token)]
    assert token not in repr(rows)

    verified = verify(api, token)
    assert verified.status_code == 201, verified.text
    body = verified.json()
    assert body["new_account"] is True
    key = body["api_key"]
    assert key.startswith("tnt_")
    keys = _keys(api, key)
    assert [k["name"] for k in keys] == ["default"]
    with api.client(key) as http:
        team = http.get("/v1/team").json()
    assert team["owner_id"] == body["account_id"]
    assert [m["email"] for m in team["members"]] == ["new.person@example.com"]

    # A link works once.
    again = assert_error(verify(api, token), 404, "not_found")
    assert again["details"] == {"token": "used"}
    unknown = assert_error(verify(api, "tver_" + "x" * 40), 404, "not_found")
    assert unknown["details"] == {"token": "unknown"}


def test_known_and_unknown_addresses_get_the_same_answer(
    accounts_api: StartApi, mailbox: Mailbox
) -> None:
    api = accounts_api()
    with api.admin() as admin:
        created = admin.post("/v1/admin/accounts", json={"email": "known@example.com"})
    assert created.status_code == 201, created.text
    old_key = created.json()["api_key"]

    known = request_link(api, "known@example.com")
    unknown = request_link(api, "unknown@example.com")
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert known.status_code == 202
    assert known.headers.get("content-length") == unknown.headers.get("content-length")

    # The mail tells them apart, for the mailbox's owner only.
    mail = mailbox.wait_for(to="known@example.com", subject_contains="new API key")
    assert "already has a Tenantry account" in mail.body
    mailbox.wait_for(to="unknown@example.com", subject_contains="Confirm")

    # The known address's link adds a key to its account; the old key keeps working.
    recovered = verify(api, mailed_token(mailbox, "known@example.com"))
    assert recovered.status_code == 201, recovered.text
    assert recovered.json()["account_id"] == created.json()["account_id"]
    assert recovered.json()["new_account"] is False
    names = sorted(str(k["name"]) for k in _keys(api, recovered.json()["api_key"]))
    assert names[0] == "default" and names[1].startswith("verified ")
    assert len(_keys(api, old_key)) == 2


def test_expired_links_and_bad_input(accounts_api: StartApi, mailbox: Mailbox) -> None:
    api = accounts_api(account_verification_ttl=1)
    assert request_link(api, "late@example.com").status_code == 202
    token = mailed_token(mailbox, "late@example.com")
    time.sleep(1.5)
    expired = assert_error(verify(api, token), 404, "not_found")
    assert expired["details"] == {"token": "expired"}

    with api.client() as http:
        for body in ({}, {"email": "not-an-email"}, {"email": "a" * 250 + "@example.com"}):
            assert_error(http.post("/v1/accounts", json=body), 422, "invalid_input")
        for body in ({}, {"token": ""}, {"token": "t" * 201}):
            assert_error(http.post("/v1/accounts/verify", json=body), 422, "invalid_input")
    assert mailbox.messages(to="late@example.com") and len(mailbox.messages()) == 1


def test_rate_limits_answer_known_and_unknown_addresses_alike(
    accounts_api: StartApi, mailbox: Mailbox
) -> None:
    per_address = accounts_api(account_mails_per_email_per_hour=2)
    with per_address.admin() as admin:
        assert admin.post("/v1/admin/accounts", json={"email": "known@example.com"}).is_success
    answers = {}
    for email in ("known@example.com", "unknown@example.com"):
        assert [request_link(per_address, email).status_code for _ in range(2)] == [202, 202]
        limited = request_link(per_address, email)
        error = assert_error(limited, 429, "rate_limited")
        assert int(limited.headers["Retry-After"]) > 0
        answers[email] = (error["code"], sorted(error["details"]))
    assert answers["known@example.com"] == answers["unknown@example.com"]
    # Another address from the same client is not limited by those two.
    assert request_link(per_address, "third@example.com").status_code == 202
    mailbox.wait_for(count=5)
    time.sleep(0.3)
    assert len(mailbox.messages()) == 5  # a limited request mails nothing

    per_client = accounts_api(account_rate_limit_per_minute=3)
    statuses = [request_link(per_client, f"p{i}@example.com").status_code for i in range(4)]
    assert statuses == [202, 202, 202, 429]
    tries = [verify(per_client, f"tver_guess{i}").status_code for i in range(4)]
    assert tries == [404, 404, 404, 429]


def test_the_mailed_link_opens_a_page_that_spends_nothing(
    accounts_api: StartApi, mailbox: Mailbox
) -> None:
    api = accounts_api()
    assert request_link(api, "page@example.com").status_code == 202
    mail = mailbox.wait_for(to="page@example.com")
    link = mail.link("token=")
    assert link.startswith(f"{api.url}/v1/accounts/verify#token=")
    with api.client() as http:
        page = http.get(link)  # what a mail scanner does
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert verify(api, mailed_token(mailbox, "page@example.com")).status_code == 201


def test_one_link_spent_twice_at_once_gives_one_key(
    accounts_api: StartApi, mailbox: Mailbox
) -> None:
    """The link's row is locked while it is spent: two requests with one token at the
    same moment get one key and one 404 (`used`), and one account exists."""
    api = accounts_api()
    assert request_link(api, "twice@example.com").status_code == 202
    token = mailed_token(mailbox, "twice@example.com")
    barrier = threading.Barrier(2)

    def spend() -> int:
        barrier.wait()
        return verify(api, token).status_code

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(lambda _: spend(), range(2)))
    assert statuses == [201, 404]
