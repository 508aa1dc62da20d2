"""`Idempotency-Key` on creates: a retry gets the first answer, another body a 409, and
two concurrent duplicates create one object."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from api.idempotency import IDEMPOTENT_ROUTES
from db.models import Account, IdempotencyKey
from db.session import make_engine
from tests.api.test_routes import EXPECTED
from tests.fixtures.api import RunningApi

ACCOUNTS = "/v1/admin/accounts"


def _accounts(database_url: str, email: str) -> int:
    engine = make_engine(database_url)
    with Session(engine) as session:
        count = session.scalar(select(func.count()).where(Account.email == email))
    engine.dispose()
    return int(count or 0)


def test_a_retry_with_the_same_key_gets_the_first_answer(
    api: RunningApi, database_url: str
) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"email": "once@example.com", "name": "Once"}
    with api.admin() as admin:
        first = admin.post(ACCOUNTS, json=body, headers=key)
        # The same body with its keys in another order is the same request.
        again = admin.post(
            ACCOUNTS, json={"name": "Once", "email": "once@example.com"}, headers=key
        )
        plain = admin.post(ACCOUNTS, json=body)  # no key: runs, and the email is taken
    assert first.status_code == 201, first.text
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert plain.status_code == 409
    assert _accounts(database_url, "once@example.com") == 1


def test_a_kept_answer_holds_no_secret_in_the_clear(api: RunningApi, database_url: str) -> None:
    """An account's API key is shown once, and again to a retry: so the kept answer is
    encrypted at rest like every other secret."""
    key = str(uuid.uuid4())
    with api.admin() as admin:
        first = admin.post(
            ACCOUNTS, json={"email": "kept@example.com"}, headers={"Idempotency-Key": key}
        )
        again = admin.post(
            ACCOUNTS, json={"email": "kept@example.com"}, headers={"Idempotency-Key": key}
        )
    assert first.status_code == 201, first.text
    api_key = first.json()["api_key"]
    assert again.json()["api_key"] == api_key
    engine = make_engine(database_url)
    with engine.connect() as connection:
        stored = connection.exec_driver_sql(
            "SELECT response_body FROM idempotency_keys WHERE key = %s", (key,)
        ).scalar_one()
    engine.dispose()
    assert api_key.encode() not in bytes(stored)
    assert b"kept@example.com" not in bytes(stored)


def test_the_same_key_with_another_body_is_a_conflict(api: RunningApi) -> None:
    key = {"Idempotency-Key": "reused-key"}
    with api.admin() as admin:
        assert admin.post(ACCOUNTS, json={"email": "a@example.com"}, headers=key).status_code == 201
        other = admin.post(ACCOUNTS, json={"email": "b@example.com"}, headers=key)
        elsewhere = admin.post("/v1/admin/rollouts", json={"tag": "1.0"}, headers=key)
    for response in (other, elsewhere):
        assert response.status_code == 409, response.text
        error = response.json()["error"]
        assert error["code"] == "conflict" and error["details"]["idempotency_key"] == "reused-key"


def test_keys_are_scoped_by_caller_and_bounded_in_length(api: RunningApi) -> None:
    key = {"Idempotency-Key": "shared-key"}
    with api.admin() as admin:
        created = admin.post(ACCOUNTS, json={"email": "scoped@example.com"}, headers=key)
        too_long = admin.post(
            ACCOUNTS, json={"email": "x@example.com"}, headers={"Idempotency-Key": "k" * 256}
        )
    assert created.status_code == 201
    assert too_long.status_code == 422 and too_long.json()["error"]["code"] == "invalid_input"
    # An account using the admin's key for its own create gets its own answer, not a 409.
    with api.client(created.json()["api_key"]) as http:
        own = http.post("/v1/pods", json={"name": "BAD NAME", "config": {}}, headers=key)
    assert own.status_code == 422, own.text


def test_concurrent_duplicates_create_one_object(api: RunningApi, database_url: str) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"email": "race@example.com"}
    start = threading.Barrier(4)
    answers: list[httpx.Response] = []

    def post() -> None:
        with api.admin() as admin:
            start.wait()
            answers.append(admin.post(ACCOUNTS, json=body, headers=key))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [a.status_code for a in answers] == [201] * 4, [a.text for a in answers]
    assert len({a.json()["api_key"] for a in answers}) == 1
    assert _accounts(database_url, "race@example.com") == 1


def test_a_key_expires_after_a_day(api: RunningApi, database_url: str) -> None:
    key = {"Idempotency-Key": "daily"}
    with api.admin() as admin:
        assert (
            admin.post(ACCOUNTS, json={"email": "d1@example.com"}, headers=key).status_code == 201
        )
        engine = make_engine(database_url)
        with Session(engine) as session, session.begin():
            session.execute(
                update(IdempotencyKey)
                .where(IdempotencyKey.key == "daily")
                .values(created_at=datetime.now(UTC) - timedelta(hours=24, minutes=1))
            )
        engine.dispose()
        fresh = admin.post(ACCOUNTS, json={"email": "d2@example.com"}, headers=key)
    assert fresh.status_code == 201, fresh.text
    assert "Idempotent-Replayed" not in fresh.headers


def test_every_idempotent_route_is_a_served_create() -> None:
    """A renamed or removed create would otherwise silently lose its key handling
    (EXPECTED is checked against the app's routes in test_routes)."""
    served_posts = {path for method, path, _ in EXPECTED if method == "POST"}
    assert set(IDEMPOTENT_ROUTES) <= served_posts
