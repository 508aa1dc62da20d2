"""Metering (admin): which hour to run again."""

from __future__ import annotations

from pydantic import BaseModel

from api.schemas.types import Instant


class RunHour(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"hour": "2026-12-04T15:00:00Z"}]}}

    hour: Instant
