"""Request and response shapes for silences, maintenance windows and direct pages (API, console)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class MatcherIn(BaseModel):
    name: str
    op: Literal["=", "!=", "=~", "!~"]
    value: str = ""


class SilenceCreate(BaseModel):
    """Give ends_at or duration; starts_at defaults to now."""

    matchers: list[MatcherIn] = Field(min_length=1, max_length=20)
    comment: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    duration: timedelta | None = None


class SilenceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    matchers: list[MatcherIn]
    starts_at: datetime
    ends_at: datetime
    comment: str
    created_by: int | None
    created_at: datetime


class WindowCreate(BaseModel):
    """Give ends_at or duration; starts_at defaults to now."""

    service_ids: list[int] = Field(min_length=1)
    reason: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    duration: timedelta | None = None


class WindowRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    reason: str
    starts_at: datetime
    ends_at: datetime
    created_by: int | None
    created_at: datetime
    service_ids: list[int] = []


class ExtendTo(BaseModel):
    ends_at: datetime


class DirectPageCreate(BaseModel):
    """The body of a direct page (app.escalation.direct.page)."""

    message: str
    user_ids: list[int] = []
    team_ids: list[int] = []
    severity: Literal["critical", "error", "warning", "info"] = "critical"
    lead_after_minutes: float = 5
    service_id: int | None = None
