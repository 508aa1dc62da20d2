"""`tenantry api`: the production HTTP process."""

from __future__ import annotations

import uvicorn

from api.app import create_app
from tenantry.settings import ApiSettings


def serve() -> None:
    settings = ApiSettings()
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        proxy_headers=True,
        log_level="info",
    )
