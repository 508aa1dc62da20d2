"""API keys: list (never a secret), create (shown once, idempotent), revoke (401 at once).

Through the real API (uvicorn) and PostgreSQL.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from tests.api.test_auth_and_health import assert_error
from tests.fixtures.api import RunningApi


def _account(api: RunningApi, email: str) -> tuple[str, str]:
    with api.admin() as admin:
        response = admin.post("/v1/admin/accounts", json={"email": email})
    assert response.status_code == 201, response.text
    return str(response.json()["account_id"]), str(response.json()["api_key"])


def test_create_list_and_revoke(api: RunningApi) -> None:
    _, first = _account(api, "keys@example.com")
    with api.client(first) as http:
        created = http.post("/v1/keys", json={"name": "ci"})
        assert created.status_code == 201, created.text
        second = created.json()
        assert second["name"] == "ci" and second["api_key"].startswith(second["prefix"])

        listed = http.get("/v1/keys")
        assert listed.status_code == 200, listed.text
        rows = listed.json()["data"]
        assert [r["name"] for r in rows] == ["ci", "default"]  # newest first
        assert first not in listed.text and second["api_key"] not in listed.text
        assert all("api_key" not in r and "key_hash" not in r for r in rows)
        # The key in use has been seen; the new one not yet.
        by_name = {r["name"]: r for r in rows}
        assert by_name["default"]["last_used_at"] is not None
        assert by_name["ci"]["last_used_at"] is None

    with api.client(second["api_key"]) as http:
        assert http.get("/v1/keys").status_code == 200
        # A key can revoke another one (here: the first, the one in use elsewhere).
        default_id = by_name["default"]["id"]
        revoked = http.delete(f"/v1/keys/{default_id}")
        assert revoked.status_code == 200, revoked.text
        assert revoked.json()["id"] == default_id and revoked.json()["revoked_at"]
    with api.client(first) as http:  # the very next request with it
        assert_error(http.get("/v1/keys"), 401, "unauthorized")

    with api.client(second["api_key"]) as http:
        # The last key cannot be revoked.
        last = assert_error(http.delete(f"/v1/keys/{second['id']}"), 409, "last_key")
        assert "create another" in last["message"]
        assert [r["id"] for r in http.get("/v1/keys").json()["data"]] == [second["id"]]
        # Revoked or unknown ids are not the caller's keys.
        assert_error(http.delete(f"/v1/keys/{default_id}"), 404, "not_found")
        assert_error(http.delete(f"/v1/keys/{uuid.uuid4()}"), 404, "not_found")
        # Revoking the key in use, once another exists: its next request is a 401.
        third = http.post("/v1/keys", json={"name": "laptop"}).json()
        assert http.delete(f"/v1/keys/{second['id']}").status_code == 200
        assert_error(http.get("/v1/keys"), 401, "unauthorized")
    with api.client(third["api_key"]) as http:
        assert [r["name"] for r in http.get("/v1/keys").json()["data"]] == ["laptop"]


def test_another_accounts_keys_answer_404(api: RunningApi) -> None:
    _, mine = _account(api, "mine@example.com")
    _, theirs = _account(api, "theirs@example.com")
    with api.client(theirs) as http:
        their_spare = http.post("/v1/keys", json={"name": "spare"}).json()
    with api.client(mine) as http:
        http.post("/v1/keys", json={"name": "spare"})
        assert_error(http.delete(f"/v1/keys/{their_spare['id']}"), 404, "not_found")
        listed = http.get("/v1/keys", params={"starting_after": their_spare["id"]})
        assert_error(listed, 404, "not_found")
        assert their_spare["id"] not in http.get("/v1/keys").text
    with api.client(their_spare["api_key"]) as http:
        assert http.get("/v1/keys").status_code == 200


def test_pages_idempotency_and_bad_input(api: RunningApi) -> None:
    _, key = _account(api, "pages@example.com")
    with api.client(key) as http:
        for name in ("a", "b", "c"):
            assert http.post("/v1/keys", json={"name": name}).status_code == 201
        page = http.get("/v1/keys", params={"limit": 2}).json()
        assert [r["name"] for r in page["data"]] == ["c", "b"] and page["has_more"] is True
        rest = http.get(
            "/v1/keys", params={"limit": 2, "starting_after": page["data"][-1]["id"]}
        ).json()
        assert [r["name"] for r in rest["data"]] == ["a", "default"]
        assert rest["has_more"] is False

        headers = {"Idempotency-Key": "key-create-1"}
        first = http.post("/v1/keys", json={"name": "once"}, headers=headers)
        replay = http.post("/v1/keys", json={"name": "once"}, headers=headers)
        assert first.status_code == replay.status_code == 201
        assert replay.json() == first.json()
        assert replay.headers["Idempotent-Replayed"] == "true"
        other = http.post("/v1/keys", json={"name": "twice"}, headers=headers)
        assert_error(other, 409, "conflict")
        names = [r["name"] for r in http.get("/v1/keys").json()["data"]]
        assert names.count("once") == 1 and "twice" not in names

        for body in ({}, {"name": ""}, {"name": "n" * 65}, {"name": "tab\there"}):
            assert_error(http.post("/v1/keys", json=body), 422, "invalid_input")
        assert_error(http.delete("/v1/keys/not-a-uuid"), 422, "invalid_input")
    with api.client() as http:
        assert_error(http.get("/v1/keys"), 401, "unauthorized")
        assert_error(http.post("/v1/keys", json={"name": "x"}), 401, "unauthorized")


def test_two_revokes_at_once_leave_one_key(api: RunningApi) -> None:
    """Each of two keys revokes itself at the same moment: the account's row lock lets
    one through, and the other then meets the last-key rule (409) or, if the first
    revoke landed before it was even authenticated, is refused (401). Never both.
    Five accounts, so that the two requests overlap in some round (without the lock,
    some round revokes both keys)."""
    for round_ in range(5):
        _race_two_revokes(api, f"race{round_}@example.com")


def _race_two_revokes(api: RunningApi, email: str) -> None:
    _, first = _account(api, email)
    with api.client(first) as http:
        second = http.post("/v1/keys", json={"name": "second"}).json()
        first_id = next(
            r["id"] for r in http.get("/v1/keys").json()["data"] if r["name"] == "default"
        )
    barrier = threading.Barrier(2)

    def revoke_itself(key: str, key_id: str) -> int:
        with api.client(key) as http:
            barrier.wait()
            return http.delete(f"/v1/keys/{key_id}").status_code

    with ThreadPoolExecutor(2) as pool:
        runs = [
            pool.submit(revoke_itself, first, first_id),
            pool.submit(revoke_itself, second["api_key"], second["id"]),
        ]
        statuses = [run.result() for run in runs]
    assert statuses.count(200) == 1 and set(statuses) - {200} <= {401, 409}, statuses
    survivor = second["api_key"] if statuses[0] == 200 else first
    with api.client(survivor) as http:
        left = http.get("/v1/keys")
    assert left.status_code == 200 and len(left.json()["data"]) == 1
