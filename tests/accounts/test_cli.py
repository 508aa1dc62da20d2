"""`tenantry accounts signup` and `tenantry keys`, run as a person runs them (subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from devstack.mailbox import Mailbox
from tests.accounts.support import StartApi, mailed_token

TENANTRY = str(Path(sys.executable).with_name("tenantry"))


def _run(*args: str, api_url: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TENANTRY, *args, "--api-url", api_url],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_signup_walks_both_steps_and_keys_are_managed(
    accounts_api: StartApi, mailbox: Mailbox
) -> None:
    api = accounts_api()
    signup = subprocess.Popen(
        [TENANTRY, "accounts", "signup", "--email", "cli@example.com", "--api-url", api.url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        token = mailed_token(mailbox, "cli@example.com", timeout=30)
        out, err = signup.communicate(token + "\n", timeout=60)
    finally:
        signup.kill()
    assert signup.returncode == 0, err
    assert "mailed to cli@example.com" in err
    key = next(line.split()[-1] for line in out.splitlines() if line.startswith("API key:"))
    assert key.startswith("tnt_")

    listed = _run("keys", "list", "--token", key, "--json", api_url=api.url)
    assert listed.returncode == 0, listed.stderr
    assert [k["name"] for k in json.loads(listed.stdout)] == ["default"]
    first_id = json.loads(listed.stdout)[0]["id"]
    # The last key cannot be revoked: a 409 is bad input (exit 2), with the reason.
    last = _run("keys", "revoke", first_id, "--token", key, api_url=api.url)
    assert last.returncode == 2 and "create another" in last.stderr

    created = _run("keys", "create", "--name", "ci", "--token", key, "--json", api_url=api.url)
    assert created.returncode == 0, created.stderr
    second = json.loads(created.stdout)
    table = _run("keys", "list", "--token", second["api_key"], api_url=api.url)
    assert table.returncode == 0 and "ci" in table.stdout and second["api_key"] not in table.stdout
    revoked = _run("keys", "revoke", first_id, "--token", second["api_key"], api_url=api.url)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout, revoked.stderr
    gone = _run("keys", "list", "--token", key, api_url=api.url)
    assert gone.returncode == 2 and "401" in gone.stderr

    # With --token (as the mail prints the command) only the verification runs: a new key
    # for the same account.
    mailbox.clear()
    gave_up = _run("accounts", "signup", "--email", "cli@example.com", api_url=api.url, stdin="")
    assert gave_up.returncode == 2 and "token is empty" in gave_up.stderr
    again = _run(
        "accounts",
        "signup",
        "--token",
        mailed_token(mailbox, "cli@example.com"),
        "--json",
        api_url=api.url,
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["new_account"] is False


def test_bad_input_exits_2(accounts_api: StartApi, mailbox: Mailbox) -> None:
    api = accounts_api()
    for args, stdin in (
        (("accounts", "signup"), None),
        (("accounts", "signup", "--email", "not-an-email"), None),
        (("accounts", "signup", "--token", "tver_nope"), None),
        (("accounts", "signup", "--email", "x@example.com"), "\n"),  # an empty token
        (("keys", "create", "--name", "", "--token", "tnt_nope"), None),
    ):
        result = _run(*args, api_url=api.url, stdin=stdin)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "error:" in result.stderr
