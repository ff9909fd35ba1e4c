"""/api/v1/direct_paging: page people or a team now, as Grafana OnCall's direct paging does.

`{"title", "message", "team_id", "users": [{"id": "U…"}]}` opens an incident with an ad-hoc
escalation (app.escalation.direct.page: the targets now, their team leads if nobody acknowledges)
and answers its alert group id. The escalation is enqueued after commit. A team-limited key pages
its own team and its members only.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select

from api import ids
from api.auth import INCIDENTS_WRITE
from api.errors import ERROR_RESPONSES, ApiRoute
from api.scope import visible_team
from app.auth.apikeys import Caller
from app.db import session_scope
from app.directory.models import TeamMembership
from app.escalation.direct import MAX_TARGETS, page
from app.incidents import service as incidents
from workers.dispatch import kick_escalations

router = APIRouter(
    prefix="/direct_paging", tags=["direct_paging"], route_class=ApiRoute, responses=ERROR_RESPONSES
)


class UserRef(BaseModel):
    id: str = Field(max_length=20)


class PageIn(BaseModel):
    title: str | None = Field(default=None, max_length=1000)
    message: str | None = Field(default=None, max_length=5000)
    team_id: str | None = Field(default=None, max_length=20)
    users: list[UserRef] = Field(default_factory=list, max_length=MAX_TARGETS)
    severity: Literal["critical", "error", "warning", "info"] = "critical"
    lead_after_minutes: float = Field(
        default=5, ge=0, le=24 * 60, allow_inf_nan=False, description="minutes before team leads"
    )

    @model_validator(mode="after")
    def _someone(self) -> PageIn:
        if not self.users and self.team_id is None:
            raise ValueError("page a team_id or at least one of users")
        return self


class PagedOut(BaseModel):
    alert_group_id: str
    number: int


@router.post("", response_model=PagedOut, summary="Page users or a team now")
def direct_page(body: PageIn, who: Caller = INCIDENTS_WRITE) -> dict[str, Any]:
    user_ids = [ids.decode("user", u.id, f"users[{i}].id") for i, u in enumerate(body.users)]
    team_ids = [ids.decode("team", body.team_id, "team_id")] if body.team_id else []
    # OnCall sends a title and a message: the title names the incident, the message is its first note.
    title = (body.title or "").strip()
    message = (body.message or "").strip()
    with session_scope() as session:
        for team_id in team_ids:
            visible_team(who, team_id, f"team {body.team_id}", "team_id")
        if who.team_id is not None:
            members = set(
                session.scalars(select(TeamMembership.user_id).where(TeamMembership.team_id == who.team_id))
            )
            for i, user_id in enumerate(user_ids):
                if user_id not in members:
                    visible_team(who, None, f"user {body.users[i].id}", f"users[{i}].id")
        done = page(
            session=session,
            message=title or message,
            by=who.user_id,
            user_ids=user_ids,
            team_ids=team_ids,
            severity=body.severity,
            lead_after_minutes=body.lead_after_minutes,
            actor=f"user:{who.user_id}",
        )
        if title and message:
            # As part of the page (the pager may page a team whose incidents they may not touch).
            incidents.add_note(
                session=session,
                incident_id=done.incident.id,
                by=None,
                actor=f"user:{who.user_id}",
                text=message,
            )
        out = {"alert_group_id": ids.encode("alert_group", done.incident.id), "number": done.incident.number}
    kick_escalations([done.kick])
    return out
