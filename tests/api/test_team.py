"""Teams: the owner invites by email, the invited address joins with the mailed token, once."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest

from devstack.mailbox import Mailbox
from devstack.procs import free_port
from tenantry.settings import ApiSettings
from tests.api.test_auth_and_health import assert_error
from tests.fixtures.api import RunningApi, api_settings

TOKEN = re.compile(r"\btinv_[A-Za-z0-9_-]{20,}")


@pytest.fixture
def team_api(
    make_api: Callable[[ApiSettings], RunningApi],
    database_url: str,
    temporal_address: str,
    smtp_url: str,
) -> Callable[..., RunningApi]:
    """APIs on one fresh database and the test SMTP sink; settings may differ per API."""

    def start(**values: object) -> RunningApi:
        settings = {
            "database_url": database_url,
            "temporal_address": temporal_address,
            "smtp_url": smtp_url,
            **values,
        }
        return make_api(api_settings(**settings))

    return start


def _account(api: RunningApi, email: str) -> str:
    with api.admin() as admin:
        response = admin.post("/v1/admin/accounts", json={"email": email})
    assert response.status_code == 201, response.text
    return str(response.json()["api_key"])


def _invite(api: RunningApi, key: str, email: str, mailbox: Mailbox) -> str:
    with api.client(key) as http:
        response = http.post("/v1/team/invites", json={"email": email})
    assert response.status_code == 201, response.text
    assert response.json()["email"] == email.lower()
    assert "token" not in response.text  # the token travels by email only
    mail = mailbox.wait_for(to=email.lower(), subject_contains="invited", timeout=10)
    mailbox.clear()
    found = TOKEN.search(mail.body)
    assert found, mail.body
    return found.group(0)


def test_invite_and_join(team_api: Callable[..., RunningApi], mailbox: Mailbox) -> None:
    api = team_api()
    owner = _account(api, "owner@example.com")
    bob = _account(api, "bob@example.com")
    carol = _account(api, "carol@example.com")

    token = _invite(api, owner, "Bob@Example.com", mailbox)
    with api.client(owner) as http:
        team = http.get("/v1/team").json()
        assert [i["email"] for i in team["invites"]] == ["bob@example.com"]
    with api.client(carol) as http:  # a forwarded token does not work for another address
        assert_error(http.post("/v1/team/join", json={"token": token}), 403, "forbidden")
        assert_error(http.post("/v1/team/join", json={"token": "tinv_nope"}), 404, "not_found")
        assert_error(http.post("/v1/team/join", json={}), 422, "invalid_input")
    with api.client(bob) as http:
        joined = http.post("/v1/team/join", json={"token": token})
        assert joined.status_code == 200, joined.text
        again = http.post("/v1/team/join", json={"token": token})  # a retry changes nothing
        assert again.status_code == 200 and again.json() == joined.json()
        team = joined.json()
        assert [(m["email"], m["role"]) for m in team["members"]] == [
            ("owner@example.com", "owner"),
            ("bob@example.com", "member"),
        ]
        assert team["invites"] == []  # members do not see invitations
        # Only the owner invites.
        assert_error(
            http.post("/v1/team/invites", json={"email": "x@example.com"}), 403, "forbidden"
        )
    with api.client(owner) as http:
        assert http.get("/v1/team").json()["owner_id"] == team["owner_id"]
        assert http.get("/v1/team").json()["invites"] == []
        assert_error(
            http.post("/v1/team/invites", json={"email": "bob@example.com"}), 409, "conflict"
        )
        assert_error(
            http.post("/v1/team/invites", json={"email": "not-an-email"}), 422, "invalid_input"
        )

    # Inviting again replaces the open invitation: the first token no longer works.
    dave = _account(api, "dave@example.com")
    first = _invite(api, owner, "dave@example.com", mailbox)
    second = _invite(api, owner, "dave@example.com", mailbox)
    with api.client(owner) as http:
        assert [i["email"] for i in http.get("/v1/team").json()["invites"]] == ["dave@example.com"]
    with api.client(dave) as http:
        assert_error(http.post("/v1/team/join", json={"token": first}), 404, "not_found")
        assert http.post("/v1/team/join", json={"token": second}).status_code == 200

    # An owner with members cannot join another team.
    other = _account(api, "other@example.com")
    to_owner = _invite(api, other, "owner@example.com", mailbox)
    with api.client(owner) as http:
        assert_error(http.post("/v1/team/join", json={"token": to_owner}), 409, "conflict")


def test_expired_invitations_and_mail_failures_leave_nothing(
    team_api: Callable[..., RunningApi], mailbox: Mailbox
) -> None:
    quick = team_api(team_invite_ttl=1)
    owner = _account(quick, "owner@example.com")
    erin = _account(quick, "erin@example.com")
    token = _invite(quick, owner, "erin@example.com", mailbox)
    time.sleep(1.5)
    with quick.client(erin) as http:
        assert_error(http.post("/v1/team/join", json={"token": token}), 404, "not_found")

    # Mail cannot be sent: 503, and no invitation is left that nobody was told about.
    no_mail = team_api(smtp_url=f"smtp://127.0.0.1:{free_port()}")
    with no_mail.client(owner) as http:
        response = http.post("/v1/team/invites", json={"email": "frank@example.com"})
        assert_error(response, 503, "unavailable")
        assert http.get("/v1/team").json()["invites"] == []
