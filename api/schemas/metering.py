"""Metering (admin): which hour to run again."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class RunHour(BaseModel):
    hour: datetime
