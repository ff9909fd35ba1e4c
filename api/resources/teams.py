"""/api/v1/teams: teams and their members."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from api import ids
from api.auth import CONFIG_WRITE, READ
from api.errors import ERROR_RESPONSES, ApiRoute
from api.paging import PAGING, Page, Paging, paginate_list
from api.scope import visible_team
from app.auth.apikeys import Caller
from app.auth.permissions import require_admin, require_team_edit
from app.db import get_or_404, session_scope
from app.directory import service as directory
from app.directory.models import Team

router = APIRouter(prefix="/teams", tags=["teams"], route_class=ApiRoute, responses=ERROR_RESPONSES)


class MemberOut(BaseModel):
    user_id: str
    role: str


class TeamOut(BaseModel):
    id: str
    name: str
    slug: str
    description: str
    members: list[MemberOut]


class TeamIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=5000)


class MemberIn(BaseModel):
    role: Literal["lead", "responder", "viewer"] = "responder"


def render(session: Any, t: Team) -> dict[str, Any]:
    members = directory.team_members(session=session, team_id=t.id)
    return {
        "id": ids.encode("team", t.id),
        "name": t.name,
        "slug": t.slug,
        "description": t.description,
        "members": [{"user_id": ids.encode("user", u.id), "role": role} for u, role in members],
    }


@router.get("", response_model=Page[TeamOut], summary="List teams")
def list_teams(request: Request, who: Caller = READ, p: Paging = PAGING) -> dict[str, Any]:
    with session_scope() as session:
        teams = [t for t in directory.list_teams(session=session) if who.team_id in (None, t.id)]
        return paginate_list(request, p, [render(session, t) for t in teams])


@router.get("/{team_id}", response_model=TeamOut, summary="One team")
def get_team(team_id: str, who: Caller = READ) -> dict[str, Any]:
    with session_scope() as session:
        team = get_or_404(session, Team, ids.decode("team", team_id, "team_id"), what="team", field="team_id")
        visible_team(who, team.id, f"team {team_id}", "team_id")
        return render(session, team)


@router.post("", response_model=TeamOut, status_code=201, summary="Create a team (admins)")
def create_team(body: TeamIn, who: Caller = CONFIG_WRITE) -> dict[str, Any]:
    with session_scope() as session:
        require_admin(session, who.user_id)
        team = directory.create_team(session=session, name=body.name, description=body.description)
        return render(session, team)


def _editable(session: Any, who: Caller, team_id: str) -> Team:
    team = get_or_404(session, Team, ids.decode("team", team_id, "team_id"), what="team", field="team_id")
    visible_team(who, team.id, f"team {team_id}", "team_id")
    require_team_edit(session, who.user_id, team.id)
    return team


@router.put(
    "/{team_id}/members/{user_id}", response_model=TeamOut, summary="Add a member or change their role"
)
def put_member(team_id: str, user_id: str, body: MemberIn, who: Caller = CONFIG_WRITE) -> dict[str, Any]:
    with session_scope() as session:
        team = _editable(session, who, team_id)
        directory.add_member(
            session=session, team_id=team.id, user_id=ids.decode("user", user_id, "user_id"), role=body.role
        )
        return render(session, team)


@router.delete("/{team_id}/members/{user_id}", response_model=TeamOut, summary="Remove a member")
def delete_member(team_id: str, user_id: str, who: Caller = CONFIG_WRITE) -> dict[str, Any]:
    with session_scope() as session:
        team = _editable(session, who, team_id)
        directory.remove_member(
            session=session, team_id=team.id, user_id=ids.decode("user", user_id, "user_id")
        )
        return render(session, team)
