"""Stripe's form encoding: ``a[b][0][c]=v`` keys decoded into nested dicts.

Lists arrive as dicts with digit keys (``items[0][price]``) or as ``expand[]``; they stay
dicts here and :meth:`Params.list` turns them into lists, because only the endpoint knows
whether ``metadata[0]`` is a list element or a metadata key. Typed accessors raise the
same ``invalid_request_error`` bodies Stripe sends for a bad value.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterable, Mapping
from typing import Any

from devstack.stripe.errors import StripeError, missing, unknown_param

_TOKEN = re.compile(r"\[([^\]]*)\]")


def decode(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Nests form pairs; ``k[]`` appends, repeated plain keys keep the last value."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        head, _, rest = key.partition("[")
        tokens = [head] + (_TOKEN.findall("[" + rest) if rest else [])
        node: dict[str, Any] = root
        for i, token in enumerate(tokens):
            last = i == len(tokens) - 1
            if token == "":
                token = str(len(node))
            if last:
                node[token] = value
            else:
                child = node.get(token)
                if not isinstance(child, dict):
                    child = {} if child in (None, "") else {"": child}
                    node[token] = child
                node = child
    return root


def as_list(value: Any) -> list[Any]:
    """A decoded list (digit-keyed dict), a real list, or one scalar, as a Python list."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        try:
            return [value[k] for k in sorted(value, key=int)]
        except ValueError:
            return [value]
    return [value]


class Params:
    """Decoded request parameters with Stripe-style typed access and errors."""

    def __init__(self, data: Mapping[builtins.str, Any], prefix: builtins.str = "") -> None:
        self.data = dict(data)
        self.prefix = prefix

    def name(self, key: builtins.str) -> builtins.str:
        return f"{self.prefix}[{key}]" if self.prefix else key

    def __contains__(self, key: builtins.str) -> builtins.bool:
        return key in self.data

    def raw(self, key: builtins.str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def check_known(self, allowed: Iterable[builtins.str]) -> None:
        allowed_set = set(allowed) | {"expand"}
        for key in self.data:
            if key not in allowed_set:
                raise unknown_param(self.name(key))

    def str(
        self,
        key: builtins.str,
        default: builtins.str | None = None,
        *,
        required: builtins.bool = False,
    ) -> builtins.str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise missing(self.name(key))
            return default
        if not isinstance(value, str):
            raise StripeError(
                f"Invalid string: {value!r}", code="parameter_invalid_string", param=self.name(key)
            )
        if value == "" and required:
            raise StripeError(
                f"You passed an empty string for '{self.name(key)}'. We assume empty values are an "
                "attempt to unset a parameter; however "
                f"'{self.name(key)}' cannot be unset. You should remove '{self.name(key)}' "
                "from your request or supply a non-empty value.",
                code="parameter_invalid_empty",
                param=self.name(key),
            )
        return value

    def req(self, key: builtins.str) -> builtins.str:
        value = self.str(key, required=True)
        assert value is not None
        return value

    def int(
        self,
        key: builtins.str,
        default: builtins.int | None = None,
        *,
        required: builtins.bool = False,
    ) -> builtins.int | None:
        value = self.data.get(key)
        if value is None or value == "":
            if required:
                raise missing(self.name(key))
            return default
        try:
            return int(str(value))
        except ValueError:
            raise StripeError(
                f"Invalid integer: {value}", code="parameter_invalid_integer", param=self.name(key)
            ) from None

    def bool(self, key: builtins.str, default: builtins.bool | None = None) -> builtins.bool | None:
        value = self.data.get(key)
        if value is None or value == "":
            return default
        if value in ("true", True):
            return True
        if value in ("false", False):
            return False
        raise StripeError(f"Invalid boolean: {value}", param=self.name(key))

    def choice(
        self,
        key: builtins.str,
        options: Iterable[builtins.str],
        default: builtins.str | None = None,
    ) -> builtins.str | None:
        value = self.str(key, default)
        opts = list(options)
        if value is not None and value not in opts:
            raise StripeError(
                f"Invalid {self.name(key)}: must be one of {', '.join(opts)}",
                param=self.name(key),
            )
        return value

    def sub(self, key: builtins.str) -> Params | None:
        value = self.data.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, dict):
            raise StripeError(
                f"Invalid object: {self.name(key)} must be a hash", param=self.name(key)
            )
        return Params(value, self.name(key))

    def list(self, key: builtins.str) -> builtins.list[Any]:
        return as_list(self.data.get(key))

    def sublist(self, key: builtins.str) -> builtins.list[Params]:
        out = []
        for i, item in enumerate(self.list(key)):
            if not isinstance(item, dict):
                raise StripeError(
                    f"Invalid array: {self.name(key)}[{i}] must be a hash", param=self.name(key)
                )
            out.append(Params(item, f"{self.name(key)}[{i}]"))
        return out

    def expand(self) -> builtins.list[builtins.str]:
        return [str(e) for e in self.list("expand")]

    def metadata(
        self, current: Mapping[builtins.str, builtins.str] | None = None
    ) -> dict[builtins.str, builtins.str]:
        """Merges ``metadata`` into ``current``: ``""`` unsets a key, or all keys."""
        result = dict(current or {})
        value = self.data.get("metadata")
        if value is None:
            return result
        if value == "":
            return {}
        if not isinstance(value, dict):
            raise StripeError("Invalid hash", param=self.name("metadata"))
        if len(result) + len(value) > 50 and len({**result, **value}) > 50:
            raise StripeError("Metadata can have at most 50 keys.", param=self.name("metadata"))
        for k, v in value.items():
            if len(k) > 40:
                raise StripeError(
                    f"Metadata keys must be at most 40 characters: {k}",
                    param=f"{self.name('metadata')}[{k}]",
                )
            if v == "":
                result.pop(k, None)
            else:
                if len(str(v)) > 500:
                    raise StripeError(
                        "Metadata values can have up to 500 characters",
                        param=f"{self.name('metadata')}[{k}]",
                    )
                result[k] = str(v)
        return result
