"""/api/v1/on_call_shifts: a schedule's rotation layers (members, rotation, handoff, restrictions)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field, NaiveDatetime
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import ids
from api.auth import CONFIG_WRITE, READ
from api.errors import ERROR_RESPONSES, ApiRoute
from api.paging import PAGING, Page, Paging, paginate_list
from api.resources.schedules import load as load_schedule
from app.auth.apikeys import Caller
from app.auth.permissions import require_team_edit
from app.db import get_or_404, session_scope, utcnow
from app.errors import Invalid, NotFound
from app.schedules import service as schedules
from app.schedules import versions
from app.schedules.models import LayerMember, Schedule, ScheduleLayer

router = APIRouter(
    prefix="/on_call_shifts", tags=["on_call_shifts"], route_class=ApiRoute, responses=ERROR_RESPONSES
)
Rotation = Literal["hourly", "daily", "weekly", "monthly", "custom"]
# The schedule service's field names → this resource's, so a refusal names what the caller sent.
API_FIELDS = {"handoff_anchor": "start", "member_ids": "users", "rotation_kind": "frequency"}


@contextmanager
def _api_fields() -> Iterator[None]:
    try:
        yield
    except Invalid as err:
        if err.field not in API_FIELDS:
            raise
        raise Invalid(err.message, field=API_FIELDS[err.field]) from None


class ShiftOut(BaseModel):
    id: str
    schedule_id: str
    name: str
    priority_level: int
    frequency: str
    rotation_hours: int | None
    start: datetime
    users: list[str]
    restrictions: list[dict[str, Any]]
    source: str


class ShiftIn(BaseModel):
    schedule_id: str
    name: str = Field(default="Layer", min_length=1, max_length=200)
    priority_level: int = Field(default=0, ge=0, le=1000)
    frequency: Rotation = "weekly"
    rotation_hours: int | None = Field(default=None, ge=1, le=24 * 366)
    start: NaiveDatetime = Field(description="wall-clock handoff time in the schedule's zone, no offset")
    users: list[str] = Field(min_length=1, max_length=200)
    restrictions: list[dict[str, Any]] = Field(default_factory=list, max_length=100)


class ShiftPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    priority_level: int | None = Field(default=None, ge=0, le=1000)
    frequency: Rotation | None = None
    rotation_hours: int | None = Field(default=None, ge=1, le=24 * 366)
    start: NaiveDatetime | None = None
    users: list[str] | None = Field(default=None, min_length=1, max_length=200)
    restrictions: list[dict[str, Any]] | None = Field(default=None, max_length=100)
    effective_from: AwareDatetime | None = Field(
        default=None, description="when the change takes effect (default now; never the past)"
    )


def render(session: Session, la: ScheduleLayer) -> dict[str, Any]:
    members = session.scalars(
        select(LayerMember.user_id).where(LayerMember.layer_id == la.id).order_by(LayerMember.position)
    )
    return {
        # The layer's lineage: its id stays the same across effective-dated versions.
        "id": ids.encode("on_call_shift", versions.lineage_of(la)),
        "schedule_id": ids.encode("schedule", la.schedule_id),
        "name": la.name,
        "priority_level": la.priority,
        "frequency": la.rotation_kind,
        "rotation_hours": la.rotation_hours,
        "start": la.handoff_anchor,
        "users": [ids.encode("user", u) for u in members],
        "restrictions": la.restrictions,
        "source": la.source,
    }


def _user_ids(public: list[str]) -> list[int]:
    return [ids.decode("user", u, f"users[{i}]") for i, u in enumerate(public)]


def _load(session: Session, who: Caller, public_id: str, *, edit: bool = False) -> ScheduleLayer:
    layer_id = ids.decode("on_call_shift", public_id, "on_call_shift_id")
    get_or_404(session, ScheduleLayer, layer_id, what="on-call shift", field="on_call_shift_id")
    layer = versions.current_version(session, layer_id, utcnow())
    if layer is None:
        raise NotFound(f"on_call_shift_id: no on-call shift {public_id}", field="on_call_shift_id")
    schedule = load_schedule(session, who, ids.encode("schedule", layer.schedule_id))
    if edit:
        require_team_edit(session, who.user_id, schedule.team_id)
    return layer


@router.get("", response_model=Page[ShiftOut], summary="List a schedule's layers (or every visible one)")
def list_shifts(
    request: Request, who: Caller = READ, p: Paging = PAGING, schedule_id: str | None = Query(default=None)
) -> dict[str, Any]:
    with session_scope() as session:
        if schedule_id:
            wanted = [load_schedule(session, who, schedule_id)]
        else:
            wanted = schedules.list_schedules(session=session, team_id=who.team_id)
        layers = [la for s in wanted for la in schedules.list_layers(session=session, schedule_id=s.id)]
        page = paginate_list(request, p, layers)
        page["results"] = [render(session, la) for la in page["results"]]
        return page


@router.get("/{shift_id}", response_model=ShiftOut, summary="One layer")
def get_shift(shift_id: str, who: Caller = READ) -> dict[str, Any]:
    with session_scope() as session:
        return render(session, _load(session, who, shift_id))


@router.post("", response_model=ShiftOut, status_code=201, summary="Add a layer to a schedule")
def create_shift(body: ShiftIn, who: Caller = CONFIG_WRITE) -> dict[str, Any]:
    with session_scope() as session:
        schedule: Schedule = load_schedule(session, who, body.schedule_id)
        require_team_edit(session, who.user_id, schedule.team_id)
        with _api_fields():
            layer = schedules.add_layer(
                session=session,
                schedule_id=schedule.id,
                member_ids=_user_ids(body.users),
                rotation_kind=body.frequency,
                rotation_hours=body.rotation_hours,
                handoff_anchor=body.start,
                priority=body.priority_level,
                restrictions=body.restrictions,
                name=body.name,
            )
        return render(session, layer)


@router.put(
    "/{shift_id}", response_model=ShiftOut, summary="Change a layer (fields left out keep their value)"
)
def update_shift(shift_id: str, body: ShiftPatch, who: Caller = CONFIG_WRITE) -> dict[str, Any]:
    with session_scope() as session:
        layer = _load(session, who, shift_id, edit=True)
        with _api_fields():
            layer = schedules.update_layer(
                session=session,
                layer_id=layer.id,
                by=who.user_id,
                member_ids=_user_ids(body.users) if body.users is not None else None,
                rotation_kind=body.frequency,
                rotation_hours=body.rotation_hours,
                handoff_anchor=body.start,
                restrictions=body.restrictions,
                priority=body.priority_level,
                name=body.name,
                effective_from=body.effective_from,
            )
        return render(session, layer)


@router.delete("/{shift_id}", status_code=204, summary="Remove a layer")
def delete_shift(
    shift_id: str,
    who: Caller = CONFIG_WRITE,
    effective_from: AwareDatetime | None = Query(
        default=None, description="when the layer ends (default now; never the past)"
    ),
) -> Response:
    with session_scope() as session:
        layer = _load(session, who, shift_id, edit=True)
        schedules.delete_layer(
            session=session, layer_id=layer.id, by=who.user_id, effective_from=effective_from
        )
    return Response(status_code=204)
