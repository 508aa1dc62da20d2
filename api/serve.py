"""`tenantry api`: the production HTTP process."""

from __future__ import annotations

import uvicorn

from api.app import create_app
from tenantry.observability.logs import configure_logging
from tenantry.settings import ApiSettings


def serve() -> None:
    settings = ApiSettings()
    if settings.log_format == "json":
        # uvicorn's own loggers then propagate to our JSON handler instead of its config.
        configure_logging("json")
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        # uvicorn's own X-Forwarded-For handling trusts 127.0.0.1 by default and would
        # rewrite the peer before the API sees it: TENANTRY_TRUSTED_PROXIES decides alone
        # (api/client_address.py).
        proxy_headers=False,
        log_level="info",
        log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
    )
