"""Labels and label selectors with the real API's rules.

Selectors are comma-separated terms that must all hold: ``k=v`` (or ``k==v``), ``k!=v``,
``k``, ``!k``, ``k in (a,b)``, ``k notin (a,b)``. Commas inside parentheses belong to
the set, not to the conjunction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from devstack.hetzner.errors import HetznerError, invalid_input

_NAME = r"[a-zA-Z0-9]([a-zA-Z0-9._-]{0,61}[a-zA-Z0-9])?"
_KEY_RE = re.compile(rf"^([a-z0-9]([a-z0-9.-]{{0,251}}[a-z0-9])?/)?{_NAME}$")
_VALUE_RE = re.compile(rf"^({_NAME})?$")

Predicate = Callable[[Mapping[str, str]], bool]


def validate_labels(value: Any, field: str = "labels") -> dict[str, str]:
    """Checks keys and values as the API does; raises ``invalid_input`` otherwise."""
    if not isinstance(value, dict):
        raise invalid_input({field: "must be an object"})
    for key, val in value.items():
        if not isinstance(key, str) or not _KEY_RE.match(key):
            raise invalid_input({field: f"invalid label key '{key}'"})
        if not isinstance(val, str) or not _VALUE_RE.match(val):
            raise invalid_input({field: f"invalid label value for key '{key}'"})
    return dict(value)


def _split_terms(selector: str) -> list[str]:
    terms: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    terms.append("".join(current).strip())
    if depth != 0 or any(not t for t in terms):
        raise _bad(selector)
    return terms


def _bad(selector: str) -> HetznerError:
    return HetznerError("invalid_input", f"invalid label_selector '{selector}'")


_SET_RE = re.compile(r"^(\S+)\s+(in|notin)\s+\(([^()]*)\)$")
_CMP_RE = re.compile(r"^([^=!\s]+)\s*(==|=|!=)\s*([^=!\s]*)$")


def _term(term: str, selector: str) -> Predicate:
    if m := _SET_RE.match(term):
        key, op, raw = m.groups()
        values = {v.strip() for v in raw.split(",")}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if m := _CMP_RE.match(term):
        key, op, value = m.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if term.startswith("!") and _KEY_RE.match(term[1:].strip()):
        key = term[1:].strip()
        return lambda labels: key not in labels
    if _KEY_RE.match(term):
        return lambda labels: term in labels
    raise _bad(selector)


def parse_selector(selector: str) -> Predicate:
    """Compiles a selector into a predicate over a label map."""
    predicates = [_term(t, selector) for t in _split_terms(selector)]
    return lambda labels: all(p(labels) for p in predicates)
