"""/api/v1/overrides: someone on call over a window, above every layer of a schedule."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import select

from api import ids
from api.auth import CONFIG_WRITE, READ
from api.errors import ERROR_RESPONSES, ApiRoute
from api.paging import PAGING, Page, Paging, paginate
from api.resources.schedules import load as load_schedule
from app.auth.apikeys import Caller
from app.auth.service import require_override_edit
from app.db import get_or_404, session_scope
from app.schedules import service as schedules
from app.schedules.models import Schedule, ScheduleOverride

router = APIRouter(prefix="/overrides", tags=["overrides"], route_class=ApiRoute, responses=ERROR_RESPONSES)


class OverrideOut(BaseModel):
    id: str
    schedule_id: str
    user_id: str
    start: datetime
    end: datetime
    reason: str


class OverrideIn(BaseModel):
    schedule_id: str
    user_id: str
    start: AwareDatetime
    end: AwareDatetime
    reason: str = Field(default="", max_length=1000)


def render(o: ScheduleOverride) -> dict[str, Any]:
    return {
        "id": ids.encode("override", o.id),
        "schedule_id": ids.encode("schedule", o.schedule_id),
        "user_id": ids.encode("user", o.user_id),
        "start": o.starts_at,
        "end": o.ends_at,
        "reason": o.reason,
    }


@router.get("", response_model=Page[OverrideOut], summary="List overrides, by start")
def list_overrides(
    request: Request, who: Caller = READ, p: Paging = PAGING, schedule_id: str | None = Query(default=None)
) -> dict[str, Any]:
    stmt = select(ScheduleOverride).join(Schedule, Schedule.id == ScheduleOverride.schedule_id)
    with session_scope() as session:
        if schedule_id:
            stmt = stmt.where(ScheduleOverride.schedule_id == load_schedule(session, who, schedule_id).id)
        if who.team_id is not None:
            stmt = stmt.where(Schedule.team_id == who.team_id)
        stmt = stmt.order_by(ScheduleOverride.starts_at, ScheduleOverride.id)
        return paginate(session, request, p, stmt, render)


@router.get("/{override_id}", response_model=OverrideOut, summary="One override")
def get_override(override_id: str, who: Caller = READ) -> dict[str, Any]:
    with session_scope() as session:
        row_id = ids.decode("override", override_id, "override_id")
        override = get_or_404(session, ScheduleOverride, row_id, what="override", field="override_id")
        load_schedule(session, who, ids.encode("schedule", override.schedule_id))
        return render(override)


@router.post("", response_model=OverrideOut, status_code=201, summary="Create an override")
def create_override(body: OverrideIn, who: Caller = CONFIG_WRITE) -> dict[str, Any]:
    user_id = ids.decode("user", body.user_id, "user_id")
    with session_scope() as session:
        schedule = load_schedule(session, who, body.schedule_id)
        require_override_edit(session, who.user_id, schedule.team_id, user_id)
        override = schedules.add_override(
            session=session,
            schedule_id=schedule.id,
            user_id=user_id,
            starts_at=body.start,
            ends_at=body.end,
            reason=body.reason,
            created_by=who.user_id,
        )
        return render(override)


@router.delete("/{override_id}", status_code=204, summary="Remove an override")
def delete_override(override_id: str, who: Caller = CONFIG_WRITE) -> Response:
    with session_scope() as session:
        row_id = ids.decode("override", override_id, "override_id")
        override = get_or_404(session, ScheduleOverride, row_id, what="override", field="override_id")
        schedule = load_schedule(session, who, ids.encode("schedule", override.schedule_id))
        require_override_edit(session, who.user_id, schedule.team_id, override.user_id)
        schedules.delete_override(session=session, override_id=override.id, by=who.user_id)
    return Response(status_code=204)
