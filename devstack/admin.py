"""A small client for an emulator's ``/_admin`` routes, used by tests, benches and ops."""

from __future__ import annotations

from typing import Any

import httpx

from devstack.faults import FaultRule, LoggedRequest


class EmulatorAdmin:
    """Drives fault injection and reads the request log of one emulator."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)

    def inject(self, *rules: FaultRule | dict[str, Any]) -> None:
        payload = [r.model_dump() if isinstance(r, FaultRule) else r for r in rules]
        self._http.post("/_admin/faults", json={"rules": payload}).raise_for_status()

    def clear_faults(self) -> None:
        self._http.delete("/_admin/faults").raise_for_status()

    def requests(self, operation: str | None = None) -> list[LoggedRequest]:
        params = {"operation": operation} if operation else {}
        response = self._http.get("/_admin/requests", params=params)
        response.raise_for_status()
        return [LoggedRequest.model_validate(r) for r in response.json()["requests"]]

    def reset(self) -> None:
        self._http.post("/_admin/reset").raise_for_status()

    def get(self, path: str, **params: Any) -> Any:
        """Reads an emulator-specific admin view, e.g. ``/_admin/servers``."""
        response = self._http.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._http.post(path, json=body or {})
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> EmulatorAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
