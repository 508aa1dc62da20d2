"""Stripe's test card numbers and what each does when charged."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Decline:
    code: str
    decline_code: str | None
    message: str


DECLINES: dict[str, Decline] = {
    "4000000000000002": Decline("card_declined", "generic_decline", "Your card was declined."),
    "4000000000009995": Decline(
        "card_declined", "insufficient_funds", "Your card has insufficient funds."
    ),
    "4000000000009987": Decline("card_declined", "lost_card", "Your card was declined."),
    "4000000000009979": Decline("card_declined", "stolen_card", "Your card was declined."),
    "4000000000000069": Decline("expired_card", None, "Your card has expired."),
    "4000000000000127": Decline("incorrect_cvc", None, "Your card's security code is incorrect."),
    "4000000000000119": Decline(
        "processing_error",
        None,
        "An error occurred while processing your card. Try again in a little bit.",
    ),
    # Attaches fine but every charge fails: what a card that later stops working does.
    "4000000000000341": Decline("card_declined", "generic_decline", "Your card was declined."),
}

GENERIC = DECLINES["4000000000000002"]


def luhn_ok(number: str) -> bool:
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def normalize(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())
