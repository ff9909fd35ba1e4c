"""/api/v1/users and /users/current: people, their role and teams (admins create them)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import ids
from api.auth import CONFIG_WRITE, READ
from api.errors import ERROR_RESPONSES, ApiRoute
from api.paging import PAGING, Page, Paging, paginate
from api.scope import visible_team
from app.auth.apikeys import Caller
from app.auth.permissions import require_admin
from app.auth.service import require_self_or_admin
from app.db import session_scope
from app.directory import service as directory
from app.directory.models import TeamMembership, User

router = APIRouter(prefix="/users", tags=["users"], route_class=ApiRoute, responses=ERROR_RESPONSES)


class UserOut(BaseModel):
    id: str
    email: str
    name: str
    username: str
    role: str
    timezone: str
    active: bool
    teams: list[str]


class UserIn(BaseModel):
    email: str = Field(max_length=320)
    name: str = Field(min_length=1, max_length=200)
    role: Literal["admin", "responder", "viewer"] = "responder"
    timezone: str = Field(default="UTC", max_length=64)


class UserPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    role: Literal["admin", "responder", "viewer"] | None = None
    active: bool | None = None


def _teams(session: Session, user_id: int) -> list[str]:
    rows = session.scalars(select(TeamMembership.team_id).where(TeamMembership.user_id == user_id))
    return [ids.encode("team", t) for t in sorted(rows)]


def render(session: Session, u: User) -> dict[str, Any]:
    return {
        "id": ids.encode("user", u.id),
        "email": u.email,
        "name": u.name,
        "username": u.email.split("@")[0],
        "role": u.role,
        "timezone": u.time_zone,
        "active": u.active,
        "teams": _teams(session, u.id),
    }


@router.get("", response_model=Page[UserOut], summary="List users")
def list_users(
    request: Request,
    who: Caller = READ,
    p: Paging = PAGING,
    email: str | None = Query(default=None, max_length=320),
) -> dict[str, Any]:
    stmt = select(User)
    if email:
        stmt = stmt.where(User.email == email.strip().lower())
    if who.team_id is not None:
        stmt = stmt.join(TeamMembership, TeamMembership.user_id == User.id).where(
            TeamMembership.team_id == who.team_id
        )
    with session_scope() as session:
        return paginate(session, request, p, stmt.order_by(User.id), lambda u: render(session, u))


@router.get("/current", response_model=UserOut, summary="The user this key acts as")
def current_user(who: Caller = READ) -> dict[str, Any]:
    with session_scope() as session:
        return render(session, directory.get_user(session=session, user_id=who.user_id))


@router.get("/{user_id}", response_model=UserOut, summary="One user")
def get_user(user_id: str, who: Caller = READ) -> dict[str, Any]:
    with session_scope() as session:
        user = directory.get_user(session=session, user_id=ids.decode("user", user_id, "user_id"))
        if who.team_id is not None:
            member = ids.encode("team", who.team_id) in _teams(session, user.id)
            visible_team(who, who.team_id if member else None, f"user {user_id}", "user_id")
        return render(session, user)


@router.post("", response_model=UserOut, status_code=201, summary="Create a user (admins)")
def create_user(body: UserIn, who: Caller = CONFIG_WRITE) -> dict[str, Any]:
    with session_scope() as session:
        require_admin(session, who.user_id)
        user = directory.create_user(
            session=session, email=body.email, name=body.name, role=body.role, time_zone=body.timezone
        )
        return render(session, user)


@router.put(
    "/{user_id}", response_model=UserOut, summary="Change a user (name and zone: self; role, active: admins)"
)
def update_user(user_id: str, body: UserPatch, who: Caller = CONFIG_WRITE) -> dict[str, Any]:
    target = ids.decode("user", user_id, "user_id")
    with session_scope() as session:
        require_self_or_admin(session, who.user_id, target)
        if body.role is not None or body.active is not None:
            require_admin(session, who.user_id)
        user = directory.update_user(
            session=session,
            user_id=target,
            name=body.name,
            time_zone=body.timezone,
            role=body.role,
            active=body.active,
        )
        return render(session, user)
