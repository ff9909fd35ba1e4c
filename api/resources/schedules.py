"""/api/v1/schedules: schedules with who is on call now, and their final shifts over a window."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import ids
from api.auth import CONFIG_WRITE, READ
from api.errors import ERROR_RESPONSES, ApiRoute
from api.paging import PAGING, Page, Paging, paginate_list
from api.scope import visible_team
from app.auth.apikeys import Caller
from app.auth.permissions import require_team_edit
from app.db import session_scope, utcnow
from app.directory.models import User
from app.errors import Invalid
from app.schedules import service as schedules
from app.schedules.models import Schedule

router = APIRouter(prefix="/schedules", tags=["schedules"], route_class=ApiRoute, responses=ERROR_RESPONSES)
MAX_WINDOW_DAYS = 93


class ScheduleOut(BaseModel):
    id: str
    name: str
    team_id: str | None
    time_zone: str
    on_call_now: list[str]
    shifts: list[str]


class ScheduleIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    time_zone: str = Field(default="UTC", max_length=64)
    team_id: str | None = None


class FinalShift(BaseModel):
    user_pk: str
    user_email: str | None
    shift_start: datetime
    shift_end: datetime
    source: str


def render(session: Session, s: Schedule) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": ids.encode("schedule", s.id),
        "name": s.name,
        "team_id": ids.maybe("team", s.team_id),
        "time_zone": s.time_zone,
        "on_call_now": [
            ids.encode("user", u)
            for u in schedules.on_call_user_ids(session=session, schedule_id=s.id, at=now)
        ],
        "shifts": [
            ids.encode("on_call_shift", la.id)
            for la in schedules.list_layers(session=session, schedule_id=s.id)
        ],
    }


def load(session: Session, who: Caller, public_id: str) -> Schedule:
    schedule = schedules.get_schedule(
        session=session, schedule_id=ids.decode("schedule", public_id, "schedule_id")
    )
    visible_team(who, schedule.team_id, f"schedule {public_id}", "schedule_id")
    return schedule


@router.get("", response_model=Page[ScheduleOut], summary="List schedules")
def list_schedules(request: Request, who: Caller = READ, p: Paging = PAGING) -> dict[str, Any]:
    with session_scope() as session:
        rows = schedules.list_schedules(session=session, team_id=who.team_id)
        page = paginate_list(request, p, rows)
        page["results"] = [render(session, s) for s in page["results"]]
        return page


@router.get("/{schedule_id}", response_model=ScheduleOut, summary="One schedule")
def get_schedule(schedule_id: str, who: Caller = READ) -> dict[str, Any]:
    with session_scope() as session:
        return render(session, load(session, who, schedule_id))


@router.post("", response_model=ScheduleOut, status_code=201, summary="Create an empty schedule")
def create_schedule(body: ScheduleIn, who: Caller = CONFIG_WRITE) -> dict[str, Any]:
    team_id = ids.decode("team", body.team_id, "team_id") if body.team_id else None
    visible_team(who, team_id, "team", "team_id")
    with session_scope() as session:
        require_team_edit(session, who.user_id, team_id)
        schedule = schedules.create_schedule(
            session=session, name=body.name, time_zone=body.time_zone, team_id=team_id
        )
        return render(session, schedule)


@router.get(
    "/{schedule_id}/final_shifts", response_model=Page[FinalShift], summary="Final shifts in a window"
)
def final_shifts(
    request: Request,
    schedule_id: str,
    start_date: AwareDatetime = Query(description="ISO 8601 with zone"),
    end_date: AwareDatetime = Query(description="ISO 8601 with zone; at most 93 days after start_date"),
    who: Caller = READ,
    p: Paging = PAGING,
) -> dict[str, Any]:
    if (end_date - start_date).days > MAX_WINDOW_DAYS:
        raise Invalid(f"the window may span at most {MAX_WINDOW_DAYS} days", field="end_date")
    with session_scope() as session:
        schedule = load(session, who, schedule_id)
        shifts = schedules.shifts_between(
            session=session, schedule_id=schedule.id, start=start_date, end=end_date
        )
        wanted = {s.user_id for s in shifts}
        emails: dict[int, str] = {
            i: e for i, e in session.execute(select(User.id, User.email).where(User.id.in_(wanted)))
        }
        rows = [
            {
                "user_pk": ids.encode("user", s.user_id),
                "user_email": emails.get(s.user_id),
                "shift_start": s.start,
                "shift_end": s.end,
                "source": s.source,
            }
            for s in shifts
        ]
        return paginate_list(request, p, rows)
