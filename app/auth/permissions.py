"""Who may do what: roles are global, incident and schedule rights are team-scoped."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.directory.models import Service, Team, TeamMembership, User
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


def service_action_refusal(session: Session, user_id: int, service_id: int, you: bool = True) -> str | None:
    """Why the user may not act on the service's incidents, in words ("you are not in the Mobile team")."""
    if can_act_on_service(session, user_id, service_id):
        return None
    user = _user(session, user_id)
    service = session.get(Service, service_id)
    subject, be = ("you", "are") if you else (user.name, "is")
    if user.role == "viewer":
        return f"{subject} {be} a viewer: viewers read incidents but do not act on them"
    team = session.get(Team, service.team_id) if service is not None and service.team_id else None
    if team is None:
        return f"{service.name if service else 'this service'} has no team, so only admins act on it"
    if team_role(session, user_id, team.id) == "viewer":
        return f"{subject} {be} only a viewer in the {team.name} team"
    return f"{subject} {be} not in the {team.name} team"


def require_service_action(session: Session, user_id: int, service_id: int) -> None:
    reason = service_action_refusal(session, user_id, service_id, you=False)
    if reason is not None:
        service = session.get(Service, service_id)
        name = service.name if service is not None else f"service {service_id}"
        user = _user(session, user_id)
        raise Forbidden(f"{user.name} may not act on incidents of {name}: {reason}", field="by")


def can_edit_team(session: Session, user_id: int, team_id: int | None) -> bool:
    """Admins edit every team's schedules and policies; a responder only as the team's lead."""
    user = _user(session, user_id)
    if user.role == "admin":
        return True
    return user.role == "responder" and team_role(session, user_id, team_id) == "lead"


def team_name(session: Session, team_id: int | None) -> str:
    """A team as people name it in a refusal ("the Payments team")."""
    team = session.get(Team, team_id) if team_id is not None else None
    return f"the {team.name} team" if team is not None else "a team-less item"


# The reasons the services and the console's disabled controls both give (app.auth.verdicts).
LEAD_OR_ADMIN = "only its lead or an admin may"
ADMIN_ONLY = "only an admin may"
RESPONDERS_ONLY = "only responders and admins may"


def can_respond(session: Session, user_id: int) -> bool:
    """Silencing alerts and paging people are for responders and admins, whatever their teams."""
    return _user(session, user_id).role in ("admin", "responder")


def require_team_edit(session: Session, user_id: int, team_id: int | None) -> None:
    if not can_edit_team(session, user_id, team_id):
        who = _user(session, user_id).name
        where = team_name(session, team_id)
        raise Forbidden(f"{who} may not edit {where}'s setup: {LEAD_OR_ADMIN}", field="by")


def require_admin(session: Session, user_id: int) -> None:
    if _user(session, user_id).role != "admin":
        raise Forbidden(f"{ADMIN_ONLY} do this", field="by")
