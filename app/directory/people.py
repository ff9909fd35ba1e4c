"""Directory people: users, teams, memberships, contact methods and notification rules."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.auth.secrets import hash_password
from app.db import get_or_404
from app.directory.models import ROLES, TEAM_ROLES, Team, TeamMembership, User
from app.errors import Conflict, Invalid, NotFound
from app.notifications.models import CONTACT_KINDS, ContactMethod, NotificationRule
from app.notifications.rules_service import append_notify

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def check_zone(zone: str, field: str = "time_zone") -> str:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"{field} {zone!r} is not an IANA time zone", field=field) from None
    return zone


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "team"


def _insert(session: Session, obj: object, what: str, field: str) -> None:
    """Add and flush inside a savepoint so a unique clash is a clear 409, not a broken session."""
    try:
        with session.begin_nested():
            session.add(obj)
            session.flush()
    except IntegrityError:
        raise Conflict(f"{what} already exists", field=field) from None


def create_user(
    *,
    session: Session,
    email: str,
    name: str,
    time_zone: str = "UTC",
    role: str = "responder",
    password: str | None = None,
    slack_user_id: str | None = None,
) -> User:
    """Create a user; the email is stored lower-cased and must be unique."""
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise Invalid(f"email {email!r} is not an e-mail address", field="email")
    if not name.strip():
        raise Invalid("name must not be empty", field="name")
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}", field="role")
    check_zone(time_zone)
    user = User(
        email=email,
        name=name.strip(),
        time_zone=time_zone,
        role=role,
        password_hash=hash_password(password) if password else None,
        slack_user_id=slack_user_id,
    )
    _insert(session, user, f"a user with email {email}", "email")
    return user


def get_user(*, session: Session, user_id: int) -> User:
    user = get_or_404(session, User, user_id, what="user", field="user_id")
    return user


def user_by_email(*, session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def user_by_slack_id(*, session: Session, slack_user_id: str) -> User | None:
    return session.scalar(select(User).where(User.slack_user_id == slack_user_id, User.active.is_(True)))


def list_users(*, session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.name)))


def mark_incidents_seen(*, session: Session, user_id: int, now: datetime) -> datetime | None:
    """Note that the user looked at the incident list now; returns when they looked before (None: never)."""
    user = get_user(session=session, user_id=user_id)
    previous, user.incidents_seen_at = user.incidents_seen_at, now
    return previous


def set_password(*, session: Session, user_id: int, password: str) -> None:
    if len(password) < 8:
        raise Invalid("password must be at least 8 characters", field="password")
    get_user(session=session, user_id=user_id).password_hash = hash_password(password)


def create_team(
    *, session: Session, name: str, description: str = "", slack_channel: str | None = None
) -> Team:
    if not name.strip():
        raise Invalid("name must not be empty", field="name")
    team = Team(name=name.strip(), slug=_slug(name), description=description, slack_channel=slack_channel)
    _insert(session, team, f"a team named {name}", "name")
    return team


def list_teams(*, session: Session) -> list[Team]:
    return list(session.scalars(select(Team).order_by(Team.name)))


def add_member(*, session: Session, team_id: int, user_id: int, role: str = "responder") -> TeamMembership:
    """Add a user to a team, or change their role in it."""
    if role not in TEAM_ROLES:
        raise Invalid(f"role must be one of {', '.join(TEAM_ROLES)}", field="role")
    if session.get(Team, team_id) is None:
        raise NotFound(f"team {team_id} does not exist", field="team_id")
    get_user(session=session, user_id=user_id)
    membership = session.get(TeamMembership, (team_id, user_id))
    if membership is None:
        membership = TeamMembership(team_id=team_id, user_id=user_id, role=role)
        session.add(membership)
    membership.role = role
    session.flush()
    return membership


def remove_member(*, session: Session, team_id: int, user_id: int) -> bool:
    """Take a user out of a team; False when they were not in it (a retry is harmless)."""
    membership = session.get(TeamMembership, (team_id, user_id))
    if membership is None:
        return False
    session.delete(membership)
    session.flush()
    return True


def update_user(
    *,
    session: Session,
    user_id: int,
    name: str | None = None,
    time_zone: str | None = None,
    role: str | None = None,
    active: bool | None = None,
) -> User:
    """Change a user's name, zone, role or whether they may sign in; fields left None keep their value."""
    user = get_user(session=session, user_id=user_id)
    if name is not None:
        if not name.strip():
            raise Invalid("name must not be empty", field="name")
        user.name = name.strip()
    if time_zone is not None:
        user.time_zone = check_zone(time_zone)
    if role is not None:
        if role not in ROLES:
            raise Invalid(f"role must be one of {', '.join(ROLES)}", field="role")
        user.role = role
    if active is not None:
        user.active = active
    session.flush()
    return user


def team_members(*, session: Session, team_id: int) -> list[tuple[User, str]]:
    rows = session.execute(
        select(User, TeamMembership.role)
        .join(TeamMembership, TeamMembership.user_id == User.id)
        .where(TeamMembership.team_id == team_id)
        .order_by(User.id)
    ).all()
    return [(u, r) for u, r in rows]


def all_memberships(*, session: Session) -> list[tuple[int, int, str]]:
    """Every (team id, user id, team role), in one query (for listings of many teams)."""
    rows = session.execute(
        select(TeamMembership.team_id, TeamMembership.user_id, TeamMembership.role).order_by(
            TeamMembership.team_id, TeamMembership.user_id
        )
    ).all()
    return [(t, u, r) for t, u, r in rows]


def teams_of(*, session: Session, user_id: int) -> list[Team]:
    return list(
        session.scalars(
            select(Team)
            .join(TeamMembership, TeamMembership.team_id == Team.id)
            .where(TeamMembership.user_id == user_id)
        )
    )


def add_contact_method(
    *, session: Session, user_id: int, kind: str, address: str, label: str = "", verified: bool = False
) -> ContactMethod:
    if kind not in CONTACT_KINDS:
        raise Invalid(f"kind must be one of {', '.join(CONTACT_KINDS)}", field="kind")
    if not address.strip():
        raise Invalid("address must not be empty", field="address")
    get_user(session=session, user_id=user_id)
    method = ContactMethod(
        user_id=user_id, kind=kind, address=address.strip(), label=label, verified=verified
    )
    session.add(method)
    session.flush()
    return method


def remove_contact_method(*, session: Session, user_id: int, contact_method_id: int) -> bool:
    """Delete one of the user's contact methods and the rule steps that use it; False when gone."""
    method = session.get(ContactMethod, contact_method_id)
    if method is None or method.user_id != user_id:
        return False
    session.delete(method)  # its notify steps go with it (ON DELETE CASCADE); deliveries keep their record
    session.flush()
    return True


def add_notification_rule(
    *, session: Session, user_id: int, contact_method_id: int, delay_minutes: int = 0
) -> NotificationRule:
    """Notify by this method `delay_minutes` into a page: appended to the user's default list."""
    method = session.get(ContactMethod, contact_method_id)
    if method is None or method.user_id != user_id:
        raise Invalid(
            "contact_method_id must be one of the user's contact methods", field="contact_method_id"
        )
    return append_notify(
        session=session, user_id=user_id, contact_method_id=contact_method_id, after_minutes=delay_minutes
    )


def contact_methods_of(*, session: Session, user_id: int) -> list[ContactMethod]:
    return list(
        session.scalars(
            select(ContactMethod).where(ContactMethod.user_id == user_id).order_by(ContactMethod.id)
        )
    )


def notification_rules_of(*, session: Session, user_id: int) -> list[NotificationRule]:
    return list(
        session.scalars(
            select(NotificationRule)
            .where(NotificationRule.user_id == user_id)
            .order_by(NotificationRule.urgency, NotificationRule.position)
        )
    )
