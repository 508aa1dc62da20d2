"""Field types the request schemas share."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator


def _not_a_bool(value: Any) -> Any:
    # pydantic's lax mode reads `true` as 1; in JSON a boolean is not a number.
    if isinstance(value, bool):
        raise ValueError("a number, not a boolean")
    return value


Whole = Annotated[int, BeforeValidator(_not_a_bool)]
"""An integer that refuses JSON booleans (and still takes 8.0, which JSON Schema calls one)."""


def _text_only(value: Any) -> Any:
    # pydantic reads a number as seconds since 1970; the schema promises a date-time string.
    if isinstance(value, int | float):
        raise ValueError("an ISO 8601 date-time string")
    return value


Instant = Annotated[datetime, BeforeValidator(_text_only)]
"""A date-time given as ISO 8601 text, as the schema says (not a Unix timestamp)."""
