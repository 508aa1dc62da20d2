"""Paying on the Stripe emulator's hosted Checkout page the way a browser does."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin

import httpx

GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = attributes.get("action") or ""
        elif tag == "input" and attributes.get("name"):
            self.fields[str(attributes["name"])] = attributes.get("value") or ""


def pay(checkout_url: str, card: str = GOOD_CARD) -> httpx.Response:
    """Fetches the page, fills the card form, submits it; returns the final response."""
    with httpx.Client(follow_redirects=False, timeout=30) as browser:
        page = browser.get(checkout_url)
        page.raise_for_status()
        form = _FormParser()
        form.feed(page.text)
        assert form.action is not None, "no payment form on the checkout page"
        form.fields.update(
            card_number=card, card_expiry="12 / 34", card_cvc="123", billing_name="Test Buyer"
        )
        if not form.fields.get("email"):
            form.fields["email"] = "buyer@example.com"
        return browser.post(urljoin(checkout_url, form.action), data=form.fields)


def declined(response: httpx.Response) -> bool:
    return response.status_code >= 400 or bool(re.search(r"declined", response.text, re.I))
