"""/api/v1/silences and /api/v1/maintenance_windows: muting alerts by matchers or by service.

Both go through app.suppression.service (the same rules as the console and CLI): PUT moves the end
(extend or shorten, never into the past), DELETE ends it now (expire). Reading needs any key;
writing needs incidents:write. Silences match alerts of every team, so a team-limited key may read
them but not write them; a team-limited key sees and edits the windows of its team's services only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy.orm import Session

from api import ids
from api.auth import INCIDENTS_WRITE, READ
from api.errors import ERROR_RESPONSES, ApiRoute
from api.paging import PAGING, Page, Paging, paginate_list
from api.scope import service_team, visible_team
from app.auth.apikeys import Caller
from app.db import get_or_404, session_scope, utcnow
from app.directory.models import Service
from app.errors import Forbidden, Invalid, NotFound
from app.suppression import service as suppression
from app.suppression.models import MaintenanceWindow, Silence

silences = APIRouter(prefix="/silences", tags=["silences"], route_class=ApiRoute, responses=ERROR_RESPONSES)
windows = APIRouter(
    prefix="/maintenance_windows",
    tags=["maintenance_windows"],
    route_class=ApiRoute,
    responses=ERROR_RESPONSES,
)
MAX_SECONDS = 366 * 24 * 3600
State = Literal["pending", "active", "expired"]


class MatcherIO(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="a label, or service, severity, source")
    op: Literal["=", "!=", "=~", "!~"] = "="
    value: str = Field(max_length=1000)


class Span(BaseModel):
    starts_at: AwareDatetime | None = Field(default=None, description="now when left out")
    ends_at: AwareDatetime | None = Field(default=None, description="give ends_at or duration")
    duration: int | None = Field(default=None, ge=1, le=MAX_SECONDS, description="seconds")


class SilenceIn(Span):
    matchers: list[MatcherIO] = Field(min_length=1, max_length=50)
    comment: str = Field(default="", max_length=2000)


class WindowIn(Span):
    service_ids: list[int] = Field(min_length=1, max_length=100)
    reason: str = Field(default="", max_length=2000)


class EndIn(BaseModel):
    ends_at: AwareDatetime


class SilenceOut(BaseModel):
    id: str
    matchers: list[MatcherIO]
    starts_at: datetime
    ends_at: datetime
    state: State
    comment: str
    created_by: str | None
    created_at: datetime


class WindowOut(BaseModel):
    id: str
    service_ids: list[int]
    starts_at: datetime
    ends_at: datetime
    state: State
    reason: str
    created_by: str | None
    created_at: datetime


def _state(starts_at: datetime, ends_at: datetime, now: datetime) -> str:
    if ends_at <= now or ends_at <= starts_at:
        return "expired"
    return "active" if starts_at <= now else "pending"


def _ends(body: Span) -> datetime | None:
    """ends_at, or starts_at (default now) + duration; the service refuses both or neither."""
    if body.duration is None or body.ends_at is not None:
        return body.ends_at
    try:
        return (body.starts_at or utcnow()) + timedelta(seconds=body.duration)
    except OverflowError:
        raise Invalid("starts_at + duration is past the year 9999", field="starts_at") from None


def render_silence(s: Silence) -> dict[str, Any]:
    return {
        "id": ids.encode("silence", s.id),
        "matchers": s.matchers,
        "starts_at": s.starts_at,
        "ends_at": s.ends_at,
        "state": _state(s.starts_at, s.ends_at, utcnow()),
        "comment": s.comment,
        "created_by": ids.maybe("user", s.created_by),
        "created_at": s.created_at,
    }


def render_window(w: MaintenanceWindow, service_ids: list[int]) -> dict[str, Any]:
    return {
        "id": ids.encode("maintenance_window", w.id),
        "service_ids": service_ids,
        "starts_at": w.starts_at,
        "ends_at": w.ends_at,
        "state": _state(w.starts_at, w.ends_at, utcnow()),
        "reason": w.reason,
        "created_by": ids.maybe("user", w.created_by),
        "created_at": w.created_at,
    }


def _install_wide(who: Caller) -> None:
    if who.team_id is not None:
        raise Forbidden(
            "silences match alerts of every team: a team-limited key may not change them",
            field="Authorization",
        )


def _silence(session: Session, public_id: str) -> Silence:
    row_id = ids.decode("silence", public_id, "silence_id")
    return get_or_404(session, Silence, row_id, what="silence", field="silence_id")


@silences.get("", response_model=Page[SilenceOut], summary="Active and pending silences, soonest end first")
def list_silences(
    request: Request, who: Caller = READ, p: Paging = PAGING, include_expired: bool = Query(default=False)
) -> dict[str, Any]:
    with session_scope() as session:
        rows = suppression.list_silences(session=session, include_expired=include_expired)
        return paginate_list(request, p, [render_silence(s) for s in rows])


@silences.get("/{silence_id}", response_model=SilenceOut, summary="One silence")
def get_silence(silence_id: str, who: Caller = READ) -> dict[str, Any]:
    with session_scope() as session:
        return render_silence(_silence(session, silence_id))


@silences.post("", response_model=SilenceOut, status_code=201, summary="Silence alerts matching all matchers")
def create_silence(body: SilenceIn, who: Caller = INCIDENTS_WRITE) -> dict[str, Any]:
    _install_wide(who)
    with session_scope() as session:
        silence = suppression.create_silence(
            session=session,
            matchers=[m.model_dump() for m in body.matchers],
            by=who.user_id,
            comment=body.comment,
            starts_at=body.starts_at,
            ends_at=_ends(body),
            duration=timedelta(seconds=body.duration) if body.duration and body.ends_at else None,
        )
        return render_silence(silence)


@silences.put("/{silence_id}", response_model=SilenceOut, summary="Move a silence's end (not into the past)")
def extend_silence(silence_id: str, body: EndIn, who: Caller = INCIDENTS_WRITE) -> dict[str, Any]:
    _install_wide(who)
    with session_scope() as session:
        row = _silence(session, silence_id)
        silence = suppression.extend_silence(
            session=session, silence_id=row.id, ends_at=body.ends_at, by=who.user_id
        )
        return render_silence(silence)


@silences.delete("/{silence_id}", status_code=204, summary="Expire a silence now")
def expire_silence(silence_id: str, who: Caller = INCIDENTS_WRITE) -> Response:
    _install_wide(who)
    with session_scope() as session:
        row = _silence(session, silence_id)
        suppression.expire_silence(session=session, silence_id=row.id, by=who.user_id)
    return Response(status_code=204)


# --- maintenance windows ----------------------------------------------------------------------


def _window(session: Session, who: Caller, public_id: str) -> tuple[MaintenanceWindow, list[int]]:
    row_id = ids.decode("maintenance_window", public_id, "window_id")
    window = get_or_404(session, MaintenanceWindow, row_id, what="maintenance window", field="window_id")
    services = suppression.window_services(session=session, window_id=window.id)
    if not _team_window(session, who, services):
        raise NotFound(f"maintenance window {public_id} is outside this key's team", field="window_id")
    return window, services


def _team_window(session: Session, who: Caller, services: list[int]) -> bool:
    return who.team_id is None or any(service_team(session, s) == who.team_id for s in services)


@windows.get("", response_model=Page[WindowOut], summary="Active and planned windows, by start")
def list_windows(
    request: Request,
    who: Caller = READ,
    p: Paging = PAGING,
    include_past: bool = Query(default=False),
    service_id: int | None = Query(default=None, ge=1, le=ids.MAX_ID),
) -> dict[str, Any]:
    with session_scope() as session:
        rows = suppression.list_windows(session=session, include_past=include_past)
        shown = [
            render_window(w, s)
            for w, s in rows
            if _team_window(session, who, s) and (service_id is None or service_id in s)
        ]
        return paginate_list(request, p, shown)


@windows.get("/{window_id}", response_model=WindowOut, summary="One maintenance window")
def get_window(window_id: str, who: Caller = READ) -> dict[str, Any]:
    with session_scope() as session:
        return render_window(*_window(session, who, window_id))


@windows.post("", response_model=WindowOut, status_code=201, summary="Put services in maintenance")
def create_window(body: WindowIn, who: Caller = INCIDENTS_WRITE) -> dict[str, Any]:
    with session_scope() as session:
        for i, service_id in enumerate(body.service_ids):
            get_or_404(session, Service, service_id, what="service", field=f"service_ids[{i}]")
            visible_team(who, service_team(session, service_id), f"service {service_id}", f"service_ids[{i}]")
        window = suppression.create_window(
            session=session,
            service_ids=body.service_ids,
            by=who.user_id,
            reason=body.reason,
            starts_at=body.starts_at,
            ends_at=_ends(body),
            duration=timedelta(seconds=body.duration) if body.duration and body.ends_at else None,
        )
        return render_window(window, suppression.window_services(session=session, window_id=window.id))


@windows.put("/{window_id}", response_model=WindowOut, summary="Move a window's end (not into the past)")
def extend_window(window_id: str, body: EndIn, who: Caller = INCIDENTS_WRITE) -> dict[str, Any]:
    with session_scope() as session:
        row, services = _window(session, who, window_id)
        window = suppression.extend_window(
            session=session, window_id=row.id, ends_at=body.ends_at, by=who.user_id
        )
        return render_window(window, services)


@windows.delete("/{window_id}", status_code=204, summary="End a window now")
def end_window(window_id: str, who: Caller = INCIDENTS_WRITE) -> Response:
    with session_scope() as session:
        row, _ = _window(session, who, window_id)
        suppression.end_window(session=session, window_id=row.id, by=who.user_id)
    return Response(status_code=204)
