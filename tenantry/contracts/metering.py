"""Typed messages of hourly metering (`MeteringWorkflow`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from tenantry.contracts.credits import CreditsDepleted

# --- metering (issue 7) ------------------------------------------------------------------


class MeteringInput(BaseModel):
    """Meter one closed UTC hour; `None` means the hour before the schedule's fire time.

    `catch_up` also meters earlier hours not yet metered (after the last metered one,
    at most `catch_up_hours` back), so an outage's hours are billed by the next run.
    """

    hour: datetime | None = None
    catch_up: bool = True
    catch_up_hours: int = 7 * 24
    page_size: int = 500
    report_batch: int = 5000


class MeteringResult(BaseModel):
    hours: list[datetime] = Field(default_factory=list)
    inserted: int = 0
    reported: int = 0


class HoursToMeter(BaseModel):
    target: datetime
    catch_up: bool = True
    catch_up_hours: int = 7 * 24


class HoursList(BaseModel):
    hours: list[datetime] = Field(default_factory=list)


class MeterPageInput(BaseModel):
    hour: datetime
    after_billed_account: str | None = None
    limit: int = 500


class MeterPageResult(BaseModel):
    lines: int = 0
    inserted: int = 0
    next_after: str | None = None
    depleted: list[CreditsDepleted] = Field(
        default_factory=list, description="prepaid accounts of the page at or below zero"
    )


class ReportUsageInput(BaseModel):
    hour: datetime
    limit: int = 1000
    full_batches_only: bool = Field(
        default=False,
        description="send only whole requests of 100 events (more records are on their way)",
    )


class ReportUsageResult(BaseModel):
    reported: int = 0
    remaining: bool = False


class MeteredHour(BaseModel):
    hour: datetime
    records: int = 0
