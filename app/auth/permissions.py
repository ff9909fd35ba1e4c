"""Who may do what: roles are global, incident and schedule rights are team-scoped."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.directory.models import Service, TeamMembership, User
from app.errors import Forbidden, NotFound


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise NotFound(f"user {user_id} does not exist", field="user_id")
    return user


def team_role(session: Session, user_id: int, team_id: int | None) -> str | None:
    """The user's role in a team (lead|responder|viewer), or None when not a member."""
    if team_id is None:
        return None
    return session.scalar(
        select(TeamMembership.role).where(
            TeamMembership.user_id == user_id, TeamMembership.team_id == team_id
        )
    )


def can_act_on_service(session: Session, user_id: int, service_id: int) -> bool:
    """Admins act everywhere; responders on their own teams' services; viewers nowhere."""
    user = _user(session, user_id)
    if user.role == "admin":
        return True
    if user.role != "responder":
        return False
    service = session.get(Service, service_id)
    if service is None:
        return False
    return team_role(session, user_id, service.team_id) in ("lead", "responder")


def require_service_action(session: Session, user_id: int, service_id: int) -> None:
    if not can_act_on_service(session, user_id, service_id):
        raise Forbidden(f"user {user_id} may not act on incidents of service {service_id}", field="by")


def can_edit_team(session: Session, user_id: int, team_id: int | None) -> bool:
    """Admins edit every team's schedules and policies; a responder only as the team's lead."""
    user = _user(session, user_id)
    if user.role == "admin":
        return True
    return user.role == "responder" and team_role(session, user_id, team_id) == "lead"


def require_team_edit(session: Session, user_id: int, team_id: int | None) -> None:
    if not can_edit_team(session, user_id, team_id):
        raise Forbidden(f"user {user_id} may not edit team {team_id}", field="by")


def require_admin(session: Session, user_id: int) -> None:
    if _user(session, user_id).role != "admin":
        raise Forbidden("only an admin may do this", field="by")
