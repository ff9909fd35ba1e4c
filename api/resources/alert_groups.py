"""/api/v1/alert_groups: incidents, OnCall-shaped, with acknowledge/resolve/silence/notes/alerts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from api import ids
from api.auth import INCIDENTS_WRITE, READ
from api.errors import ERROR_RESPONSES, ApiRoute
from api.paging import PAGING, Page, Paging, paginate
from api.scope import service_team, visible_team
from app.auth.apikeys import Caller
from app.db import session_scope, utcnow
from app.directory.models import Service
from app.errors import NotFound
from app.incidents import service as incidents
from app.incidents.models import Alert, Incident, IncidentEvent
from app.links import incident_link
from workers.dispatch import kick_escalations

router = APIRouter(
    prefix="/alert_groups", tags=["alert_groups"], route_class=ApiRoute, responses=ERROR_RESPONSES
)
State = Literal["new", "acknowledged", "silenced", "resolved"]


class AlertGroupOut(BaseModel):
    id: str
    title: str
    state: State
    severity: str
    alerts_count: int
    service_id: int
    team_id: str | None
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    silenced_until: datetime | None
    permalinks: dict[str, str]


class AlertOut(BaseModel):
    id: str
    alert_group_id: str | None
    title: str
    status: str
    severity: str
    source: str
    labels: dict[str, Any]
    created_at: datetime
    ended_at: datetime | None
    payload: dict[str, Any]


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=10_000)


class NoteOut(BaseModel):
    id: str
    alert_group_id: str
    author: str | None
    text: str
    created_at: datetime


class SilenceIn(BaseModel):
    delay: int = Field(ge=1, le=7 * 86_400, description="seconds to silence escalation for")


def _state(i: Incident, now: datetime) -> State:
    if i.status == "resolved":
        return "resolved"
    if i.snoozed_until is not None and i.snoozed_until > now:
        return "silenced"
    return "acknowledged" if i.status == "acknowledged" else "new"


def render(row: tuple[Incident, int | None]) -> dict[str, Any]:
    i, team_id = row
    return {
        "id": ids.encode("alert_group", i.id),
        "title": i.title,
        "state": _state(i, utcnow()),
        "severity": i.severity,
        "alerts_count": i.alert_count,
        "service_id": i.service_id,
        "team_id": ids.maybe("team", team_id),
        "created_at": i.created_at,
        "acknowledged_at": i.acknowledged_at,
        "acknowledged_by": ids.maybe("user", i.acknowledged_by),
        "resolved_at": i.resolved_at,
        "resolved_by": ids.maybe("user", i.resolved_by),
        "silenced_until": i.snoozed_until,
        "permalinks": {"web": incident_link(i.id)},
    }


STATE_FILTERS = {
    "resolved": lambda now: Incident.status == "resolved",
    "acknowledged": lambda now: Incident.status == "acknowledged",
    "new": lambda now: and_(
        Incident.status == "triggered", or_(Incident.snoozed_until.is_(None), Incident.snoozed_until <= now)
    ),
    "silenced": lambda now: and_(Incident.status != "resolved", Incident.snoozed_until > now),
}


@router.get("", response_model=Page[AlertGroupOut], summary="List alert groups (incidents), newest first")
def list_alert_groups(
    request: Request,
    who: Caller = READ,
    p: Paging = PAGING,
    state: list[State] = Query(default=[], description="new, acknowledged, silenced, resolved"),
    team_id: str | None = Query(default=None),
    severity: list[Literal["critical", "error", "warning", "info"]] = Query(default=[]),
    started_after: datetime | None = Query(default=None, description="ISO 8601 with zone"),
) -> dict[str, Any]:
    now = utcnow()
    stmt = select(Incident, Service.team_id).join(Service, Service.id == Incident.service_id)
    if state:
        stmt = stmt.where(or_(*(STATE_FILTERS[s](now) for s in state)))
    if team_id is not None:
        stmt = stmt.where(Service.team_id == ids.decode("team", team_id, "team_id"))
    if who.team_id is not None:
        stmt = stmt.where(Service.team_id == who.team_id)
    if severity:
        stmt = stmt.where(Incident.severity.in_(severity))
    if started_after is not None:
        stmt = stmt.where(Incident.created_at >= started_after)
    stmt = stmt.order_by(Incident.created_at.desc(), Incident.id.desc())
    with session_scope() as session:
        return paginate(session, request, p, stmt, render)


@router.get("/{alert_group_id}", response_model=AlertGroupOut, summary="One alert group")
def get_alert_group(alert_group_id: str, who: Caller = READ) -> dict[str, Any]:
    with session_scope() as session:
        return render(_load(session, who, alert_group_id))


@router.post("/{alert_group_id}/acknowledge", response_model=AlertGroupOut, summary="Acknowledge")
def acknowledge(alert_group_id: str, who: Caller = INCIDENTS_WRITE) -> dict[str, Any]:
    return _act(alert_group_id, who, incidents.acknowledge)


@router.post("/{alert_group_id}/unacknowledge", response_model=AlertGroupOut, summary="Unacknowledge")
def unacknowledge(alert_group_id: str, who: Caller = INCIDENTS_WRITE) -> dict[str, Any]:
    return _act(alert_group_id, who, incidents.unacknowledge)


@router.post("/{alert_group_id}/resolve", response_model=AlertGroupOut, summary="Resolve")
def resolve(alert_group_id: str, who: Caller = INCIDENTS_WRITE) -> dict[str, Any]:
    return _act(alert_group_id, who, incidents.resolve)


@router.post("/{alert_group_id}/unresolve", response_model=AlertGroupOut, summary="Re-open a resolved one")
def unresolve(alert_group_id: str, who: Caller = INCIDENTS_WRITE) -> dict[str, Any]:
    return _act(alert_group_id, who, incidents.unresolve)


@router.post("/{alert_group_id}/silence", response_model=AlertGroupOut, summary="Silence (snooze) escalation")
def silence(alert_group_id: str, body: SilenceIn, who: Caller = INCIDENTS_WRITE) -> dict[str, Any]:
    return _act(alert_group_id, who, incidents.snooze, duration=timedelta(seconds=body.delay))


@router.get("/{alert_group_id}/notes", response_model=list[NoteOut], summary="The notes, oldest first")
def list_notes(alert_group_id: str, who: Caller = READ) -> list[dict[str, Any]]:
    with session_scope() as session:
        incident, _ = _load(session, who, alert_group_id)
        rows = session.scalars(
            select(IncidentEvent)
            .where(IncidentEvent.incident_id == incident.id, IncidentEvent.kind == "note")
            .order_by(IncidentEvent.at, IncidentEvent.id)
        )
        return [_note(e) for e in rows]


@router.post("/{alert_group_id}/notes", response_model=NoteOut, status_code=201, summary="Add a note")
def add_note(alert_group_id: str, body: NoteIn, who: Caller = INCIDENTS_WRITE) -> dict[str, Any]:
    with session_scope() as session:
        incident, _ = _load(session, who, alert_group_id)
        event = incidents.add_note(session=session, incident_id=incident.id, by=who.user_id, text=body.text)
        return _note(event)


@router.get("/{alert_group_id}/alerts", response_model=Page[AlertOut], summary="The alerts, oldest first")
def list_alerts(
    request: Request, alert_group_id: str, who: Caller = READ, p: Paging = PAGING
) -> dict[str, Any]:
    with session_scope() as session:
        incident, _ = _load(session, who, alert_group_id)
        stmt = select(Alert).where(Alert.incident_id == incident.id).order_by(Alert.id)
        return paginate(session, request, p, stmt, render_alert)


def render_alert(a: Alert) -> dict[str, Any]:
    return {
        "id": ids.encode("alert", a.id),
        "alert_group_id": ids.maybe("alert_group", a.incident_id),
        "title": a.summary,
        "status": a.status,
        "severity": a.severity,
        "source": a.source,
        "labels": a.labels,
        "created_at": a.received_at,
        "ended_at": a.ends_at,
        "payload": a.raw,
    }


def _note(e: IncidentEvent) -> dict[str, Any]:
    return {
        "id": ids.encode("note", e.id),
        "alert_group_id": ids.encode("alert_group", e.incident_id),
        "author": ids.maybe("user", e.actor_user_id),
        "text": str(e.data.get("text", "")),
        "created_at": e.at,
    }


def _load(session: Session, who: Caller, public_id: str) -> tuple[Incident, int | None]:
    incident_id = ids.decode("alert_group", public_id, "alert_group_id")
    incident = session.get(Incident, incident_id)
    team_id = service_team(session, incident.service_id) if incident is not None else None
    if incident is None:
        raise NotFound(f"alert group {public_id} does not exist", field="alert_group_id")
    visible_team(who, team_id, f"alert group {public_id}", "alert_group_id")
    return incident, team_id


def _act(public_id: str, who: Caller, action: Callable[..., Any], **kw: Any) -> dict[str, Any]:
    with session_scope() as session:
        incident, team_id = _load(session, who, public_id)
        action(session=session, incident_id=incident.id, by=who.user_id, **kw)
        session.refresh(incident)
        out = render((incident, team_id))
        kick = (incident.id, incident.escalation_token or "")
        due = incident.status == "triggered" and incident.next_escalation_at is not None
    if due:
        # After commit; a lost enqueue is re-derived by the sweeper.
        kick_escalations([kick])
    return out
