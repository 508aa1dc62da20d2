"""Self-serve accounts (public): ask for a one-time link by mail, then spend it for a key.

`POST /v1/accounts` answers 202 with one body for every valid address, after the same
work (a link row is written either way); whether the address has an account is decided
in the mail, sent after the answer (`api.account_mail`). Rate limits, per client
address and per mailed address, answer a known and an unknown address alike.
`POST /v1/accounts/verify` spends the link once: a new account with its first key, or a
new key for the account the address has. The token is kept as a digest only.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse

from api.account_mail import VERIFY_PATH, SignupLink, send_signup_mail
from api.deps import ClientAddressDep, SessionDep, SettingsDep
from api.errors import ApiError
from api.responses import BODY, errors
from api.schemas.accounts import (
    AccountSignup,
    AccountSignupAccepted,
    AccountVerified,
    AccountVerify,
)
from db.repo import accounts as accounts_repo
from db.repo import api_keys as keys_repo
from db.repo import verifications as repo
from db.repo.audit import audit
from tenantry.crypto import generate_api_key, hash_secret, new_token

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])

VERIFY_TOKEN_PREFIX = "tver_"


@router.post(
    "", status_code=202, response_model=AccountSignupAccepted, responses=errors(*BODY, 429)
)
async def request_account(
    *,
    body: AccountSignup,
    request: Request,
    background: BackgroundTasks,
    settings: SettingsDep,
    session: SessionDep,
    client: ClientAddressDep,
) -> AccountSignupAccepted:
    """Mails a one-time link to the address: it creates an account, or, when the address
    has one, adds a new API key to it. The answer is the same either way."""
    email = str(body.email).lower()
    request.app.state.account_limiter.check(client)
    request.app.state.account_mail_limiter.check(hash_secret(email))
    token = VERIFY_TOKEN_PREFIX + new_token()
    expires_at = datetime.now(UTC) + settings.account_verification_ttl
    row = await repo.add_verification(
        session, email=email, token_hash=hash_secret(token), expires_at=expires_at
    )
    await session.commit()
    link = SignupLink(verification_id=row.id, email=email, token=token, expires_at=expires_at)
    background.add_task(send_signup_mail, request.app.state.sessions, settings, link)
    return AccountSignupAccepted()


@router.post(
    "/verify",
    status_code=201,
    response_model=AccountVerified,
    responses=errors(*BODY, 403, 404, 429),
)
async def verify_account(
    *, body: AccountVerify, request: Request, session: SessionDep, client: ClientAddressDep
) -> AccountVerified:
    """Spends a mailed link: the account (created now, or the address's own) and a new
    API key, shown only in this answer. A used, expired or unknown link is a 404."""
    request.app.state.account_verify_limiter.check(client)
    now = datetime.now(UTC)
    row = await repo.verification_for_update(session, hash_secret(body.token))
    problem = (
        "unknown"
        if row is None
        else "used"
        if row.used_at is not None
        else "expired"
        if row.expires_at <= now
        else None
    )
    if row is None or problem is not None:
        raise ApiError(
            404,
            "not_found",
            f"this link is {problem}: ask for a new one (POST /v1/accounts)",
            {"token": problem},
        )
    await repo.lock_email(session, row.email)
    account = await repo.account_by_email(session, row.email)
    key = generate_api_key()
    if account is None:
        account = await accounts_repo.create_account(
            session, email=row.email, name=None, key_prefix=key.prefix, key_hash=key.digest
        )
        new_account = True
    elif account.status != "active":
        raise ApiError(403, "forbidden", f"the account is {account.status}")
    else:
        await keys_repo.add_key(session, account.id, f"verified {now:%Y-%m-%d %H:%M}", key)
        new_account = False
    repo.spend(row, account.id, now)
    audit(
        session,
        actor=f"account:{account.id}",
        action="account.create" if new_account else "account.key_recovered",
        target=f"account:{account.id}",
        details={"verification_id": str(row.id), "key_prefix": key.prefix},
    )
    await session.commit()
    return AccountVerified(
        account_id=str(account.id), api_key=key.plaintext, new_account=new_account
    )


@router.get(
    "/verify",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}, "description": "the confirmation page"}},
)
async def verify_page() -> HTMLResponse:
    """Where the mailed link (`#token=...`) lands: a page that spends the token only when
    the person presses its button (mail scanners open links: a GET uses nothing up)."""
    return HTMLResponse(_VERIFY_PAGE)


_VERIFY_PAGE = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Tenantry: confirm your account</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>Confirm your Tenantry account</h1>
<p>Press the button to get your API key. It is shown once: store it now.</p>
<button id="go">Get my API key</button>
<pre id="out"></pre>
<script>
document.getElementById("go").onclick = async () => {{
  const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
  const r = await fetch("{VERIFY_PATH}", {{method: "POST",
    headers: {{"Content-Type": "application/json"}}, body: JSON.stringify({{token}})}});
  const body = await r.json();
  document.getElementById("out").textContent = r.ok
    ? "account: " + body.account_id + "\\nAPI key: " + body.api_key
    : body.error.message;
}};
</script>
</body></html>
"""
