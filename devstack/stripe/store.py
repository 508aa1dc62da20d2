"""The emulator's state: objects by kind, the account clock, and the idempotency cache.

Objects are kept as plain JSON-able dicts in Stripe's own shape, with private bookkeeping
under keys that start with ``_`` (stripped when rendered). Keeping them JSON-able is what
makes ``--state-file`` persistence a single ``json.dump``.
"""

from __future__ import annotations

import json
import os
import secrets
import string
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack.stripe.errors import no_such

Obj = dict[str, Any]

_ALPHABET = string.ascii_letters + string.digits

PREFIXES: dict[str, str] = {
    "cus": "customer",
    "prod": "product",
    "price": "price",
    "cs": "checkout.session",
    "sub": "subscription",
    "si": "subscription_item",
    "in": "invoice",
    "mtr": "billing.meter",
    "evt": "event",
    "we": "webhook_endpoint",
    "clock": "test_helpers.test_clock",
    "pm": "payment_method",
    "ii": "invoiceitem",
    "pi": "payment_intent",
    "inpay": "invoice_payment",
    "re": "refund",
    "seti": "setup_intent",
    "bps": "billing_portal.session",
}

KIND_NAMES: dict[str, str] = {
    "checkout.session": "checkout.session",
    "billing.meter": "billing meter",
    "test_helpers.test_clock": "test clock",
    "webhook_endpoint": "webhook endpoint",
    "subscription_item": "subscription item",
    "payment_method": "PaymentMethod",
    "setup_intent": "setupintent",
    "billing_portal.session": "billing portal session",
}


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_{''.join(secrets.choice(_ALPHABET) for _ in range(length))}"


def kind_of(object_id: str) -> str | None:
    prefix = object_id.split("_", 1)[0]
    return PREFIXES.get(prefix)


@dataclass
class IdempotencyEntry:
    """The first response given for one ``Idempotency-Key``."""

    method: str
    path: str
    fingerprint: str
    created: float
    status: int | None = None  # None while the first request is still running
    body: str = ""


@dataclass
class Store:
    """All objects of the one emulated account, plus its clocks."""

    objects: dict[str, dict[str, Obj]] = field(default_factory=dict)
    seq: int = 0
    offset: float = 0.0
    idempotency: dict[str, IdempotencyEntry] = field(default_factory=dict)
    payment_failures: dict[str, bool] = field(default_factory=dict)

    # -- time ------------------------------------------------------------------------
    def now(self) -> int:
        """The account's clock: wall time plus what ``/_admin/advance`` added."""
        return int(time.time() + self.offset)

    def clock_of(self, customer_id: str | None) -> Obj | None:
        if not customer_id:
            return None
        customer = self.objects.get("customer", {}).get(customer_id)
        clock_id = customer.get("test_clock") if customer else None
        return self.objects.get("test_helpers.test_clock", {}).get(clock_id) if clock_id else None

    def now_for(self, customer_id: str | None) -> int:
        """Time as seen by a customer: its test clock's frozen time, else the account clock."""
        clock = self.clock_of(customer_id)
        return int(clock["frozen_time"]) if clock else self.now()

    # -- objects -----------------------------------------------------------------------
    def table(self, kind: str) -> dict[str, Obj]:
        return self.objects.setdefault(kind, {})

    def add(self, kind: str, obj: Obj) -> Obj:
        self.seq += 1
        obj["_seq"] = self.seq
        self.table(kind)[obj["id"]] = obj
        return obj

    def get(self, kind: str, object_id: str, param: str = "id") -> Obj:
        obj = self.table(kind).get(object_id)
        if obj is None:
            raise no_such(KIND_NAMES.get(kind, kind), object_id, param)
        return obj

    def find(self, kind: str, object_id: str) -> Obj | None:
        return self.table(kind).get(object_id)

    def all(self, kind: str) -> Iterator[Obj]:
        return iter(list(self.table(kind).values()))

    def remove(self, kind: str, object_id: str) -> None:
        self.table(kind).pop(object_id, None)

    def reset(self) -> None:
        self.objects.clear()
        self.idempotency.clear()
        self.payment_failures.clear()
        self.offset = 0.0

    # -- persistence ---------------------------------------------------------------
    def dump(self, path: Path) -> None:
        """Writes the state atomically (a crash mid-write leaves the previous file)."""
        payload = {
            "objects": self.objects,
            "seq": self.seq,
            "offset": self.offset,
            "payment_failures": self.payment_failures,
            "idempotency": {k: vars(v) for k, v in self.idempotency.items() if v.status},
        }
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(payload))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> Store:
        if not path.exists():
            return cls()
        payload = json.loads(path.read_text())
        return cls(
            objects=payload.get("objects", {}),
            seq=int(payload.get("seq", 0)),
            offset=float(payload.get("offset", 0.0)),
            payment_failures=payload.get("payment_failures", {}),
            idempotency={
                k: IdempotencyEntry(**v) for k, v in payload.get("idempotency", {}).items()
            },
        )
