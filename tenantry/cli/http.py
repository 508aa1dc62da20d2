"""What every API-talking command shares: options, the HTTP client, output, exit codes.

Exit codes: 0 ok; 1 the operation failed (server error, unreachable API, a failed
signup); 2 bad input (a 4xx from the API, or a usage error), with the API's message.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, NoReturn

import httpx
import typer

from tenantry.settings import CliSettings

ApiUrlOption = Annotated[
    str | None, typer.Option("--api-url", help="API base URL (env: TENANTRY_API_URL)")
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token", help="admin token or API key (env: TENANTRY_TOKEN)", show_default=False
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="print machine-readable JSON")]
AllOption = Annotated[
    bool, typer.Option("--all", help="every page of the list, not only the first")
]

PAGE_SIZE = 100  # the API's maximum `limit`: fewest round trips for --all

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


@dataclass
class Cli:
    """The resolved options of one command invocation."""

    api_url: str
    token: str | None
    json: bool

    @classmethod
    def from_options(cls, api_url: str | None, token: str | None, as_json: bool) -> Cli:
        settings = CliSettings()
        secret = token or (settings.token.get_secret_value() if settings.token else None)
        return cls(api_url or settings.api_url, secret, as_json)

    @contextmanager
    def http(self) -> Iterator[httpx.Client]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        with httpx.Client(base_url=self.api_url, headers=headers, timeout=60) as client:
            yield client

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call; a 4xx exits 2 and a 5xx or unreachable API exits 1, with a message."""
        try:
            with self.http() as client:
                response = client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            fail(f"cannot reach the API at {self.api_url}: {exc}", EXIT_FAILED)
        if response.is_success:
            return response.json() if response.content else None
        try:
            error = response.json()["error"]
            message = f"{error['message']} ({error['code']})"
        except (ValueError, KeyError, TypeError):
            error, message = None, response.text or response.reason_phrase
        if self.json and error is not None:
            typer.echo(json.dumps({"error": error}), err=True)
        code = EXIT_BAD_INPUT if 400 <= response.status_code < 500 else EXIT_FAILED
        fail(f"HTTP {response.status_code}: {message}", code)

    def list(
        self,
        path: str,
        id_field: str,
        *,
        every_page: bool,
        params: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """The rows of a paginated list: the first page, or with `every_page` all of them
        (following `starting_after` with the last row's `id_field`). When rows are left
        out, stderr says so, so that a table never passes for the whole list."""
        query: dict[str, Any] = {**(params or {}), "limit": PAGE_SIZE}
        rows: list[dict[str, Any]] = []
        while True:
            page = self.call("GET", path, params=query)
            rows += page["data"]
            if not page["has_more"]:
                return rows
            if not every_page:
                typer.echo(f"(first {len(rows)} shown; more exist: use --all)", err=True)
                return rows
            query["starting_after"] = page["data"][-1][id_field]

    def out(self, data: Any, text: str | None = None) -> None:
        if self.json or text is None:
            typer.echo(json.dumps(data, indent=None if self.json else 2, default=str))
        else:
            typer.echo(text)


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    sys.stdout.flush()
    raise typer.Exit(code)


def follow(
    cli: Cli,
    fetch: Callable[[], dict[str, Any]],
    *,
    settled: Callable[[dict[str, Any]], bool],
    progress: Callable[[dict[str, Any]], str],
    what: str,
    timeout: float,
    interval: float = 1.0,
) -> dict[str, Any]:
    """Polls `fetch` until `settled`, printing each new progress line to stderr (not with
    --json); exits 1 when `timeout` seconds pass first, since the work may still finish."""
    deadline, last = time.monotonic() + timeout, None
    while True:
        view = fetch()
        line = progress(view)
        if line != last and not cli.json:
            typer.echo(f"  {line}", err=True)
            last = line
        if settled(view):
            return view
        if time.monotonic() > deadline:
            fail(f"{what} is still {line} after {timeout:.0f}s", EXIT_FAILED)
        time.sleep(interval)


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    if not rows:
        return "(none)"
    widths = {c: max(len(c), *(len(str(r.get(c) or "")) for r in rows)) for c in columns}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r.get(c) or "").ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)
