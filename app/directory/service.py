"""Directory: users, teams, memberships, services, integrations and API keys."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.auth.secrets import hash_password, new_token, token_hash
from app.db import get_or_404, utcnow
from app.directory.models import (
    ROLES,
    SOURCE_KINDS,
    TEAM_ROLES,
    ApiKey,
    Integration,
    Service,
    Team,
    TeamMembership,
    User,
)
from app.errors import Conflict, Invalid, NotFound
from app.escalation.models import EscalationPolicy
from app.notifications.models import CONTACT_KINDS, ContactMethod, NotificationRule

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


def create_service(
    *,
    session: Session,
    name: str,
    team_id: int | None = None,
    escalation_policy_id: int | None = None,
    description: str = "",
) -> Service:
    if not name.strip():
        raise Invalid("name must not be empty", field="name")
    if team_id is not None and session.get(Team, team_id) is None:
        raise NotFound(f"team {team_id} does not exist", field="team_id")
    service = Service(
        name=name.strip(), team_id=team_id, escalation_policy_id=escalation_policy_id, description=description
    )
    _insert(session, service, f"a service named {name}", "name")
    return service


def get_service(*, session: Session, service_id: int) -> Service:
    service = get_or_404(session, Service, service_id, what="service", field="service_id")
    return service


def set_service_policy(*, session: Session, service_id: int, escalation_policy_id: int | None) -> Service:
    """Choose the escalation policy new incidents of a service freeze; open incidents keep theirs."""
    service = get_service(session=session, service_id=service_id)
    if escalation_policy_id is not None and session.get(EscalationPolicy, escalation_policy_id) is None:
        raise NotFound(
            f"escalation policy {escalation_policy_id} does not exist", field="escalation_policy_id"
        )
    service.escalation_policy_id = escalation_policy_id
    session.flush()
    return service


def list_services(*, session: Session) -> list[Service]:
    return list(session.scalars(select(Service).order_by(Service.name)))


def create_integration(
    *,
    session: Session,
    service_id: int,
    kind: str,
    name: str,
    flap_window_seconds: int = 600,
    auto_resolve: bool = True,
    expected_interval_seconds: int | None = None,
) -> tuple[Integration, str]:
    """Create an integration; returns it with its raw token, which is never stored or shown again."""
    if kind not in SOURCE_KINDS:
        raise Invalid(f"kind must be one of {', '.join(SOURCE_KINDS)}", field="kind")
    if not name.strip():
        raise Invalid("name must not be empty", field="name")
    if flap_window_seconds < 0:
        raise Invalid("flap_window_seconds must be >= 0", field="flap_window_seconds")
    get_service(session=session, service_id=service_id)
    token = new_token("whk")
    integration = Integration(
        service_id=service_id,
        kind=kind,
        name=name.strip(),
        token_hash=token_hash(token),
        token_prefix=token[:8],
        flap_window_seconds=flap_window_seconds,
        auto_resolve=auto_resolve,
        expected_interval_seconds=expected_interval_seconds,
    )
    _insert(session, integration, "an integration with this token", "token")
    return integration, token


def get_integration(*, session: Session, integration_id: int) -> Integration:
    integration = get_or_404(session, Integration, integration_id, what="integration", field="integration_id")
    return integration


def integration_by_token(*, session: Session, token: str) -> Integration | None:
    """Look an integration up by the hash of its token (revoked ones included; callers check)."""
    return session.scalar(select(Integration).where(Integration.token_hash == token_hash(token)))


def rotate_integration_token(*, session: Session, integration_id: int) -> str:
    """Issue a new token; the old one stops working at once."""
    integration = get_integration(session=session, integration_id=integration_id)
    token = new_token("whk")
    integration.token_hash = token_hash(token)
    integration.token_prefix = token[:8]
    integration.revoked_at = None
    session.flush()
    return token


def revoke_integration(*, session: Session, integration_id: int, now: datetime | None = None) -> None:
    get_integration(session=session, integration_id=integration_id).revoked_at = now or utcnow()
    session.flush()


def list_integrations(*, session: Session, service_id: int) -> list[Integration]:
    """A service's integrations, oldest first (revoked ones included)."""
    return list(
        session.scalars(
            select(Integration).where(Integration.service_id == service_id).order_by(Integration.id)
        )
    )


def update_integration(
    *, session: Session, integration_id: int, flap_window_seconds: int, auto_resolve: bool
) -> Integration:
    """Change how an integration groups flapping alerts and whether recovered alerts resolve incidents."""
    if not 0 <= flap_window_seconds <= 86_400:
        raise Invalid("flap_window_seconds must be between 0 and 86400", field="flap_window_seconds")
    integration = get_integration(session=session, integration_id=integration_id)
    integration.flap_window_seconds = flap_window_seconds
    integration.auto_resolve = auto_resolve
    session.flush()
    return integration


def webhook_url(base_url: str, integration: Integration, token: str) -> str:
    return f"{base_url.rstrip('/')}/webhooks/{integration.kind}/{token}"


def create_api_key(
    *, session: Session, name: str, role: str = "responder", user_id: int | None = None
) -> tuple[ApiKey, str]:
    """Create an API key; returns it with the raw key, shown once."""
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}", field="role")
    raw = new_token("sk")
    key = ApiKey(name=name, key_hash=token_hash(raw), prefix=raw[:7], role=role, user_id=user_id)
    _insert(session, key, "an API key with this secret", "key")
    return key, raw


def api_key_by_secret(*, session: Session, raw: str, now: datetime | None = None) -> ApiKey | None:
    """The active key for a presented secret, marking it used."""
    key = session.scalar(
        select(ApiKey).where(ApiKey.key_hash == token_hash(raw), ApiKey.revoked_at.is_(None))
    )
    if key is not None:
        key.last_used_at = now or utcnow()
    return key


def rotate_api_key(*, session: Session, key_id: int) -> str:
    key = get_or_404(session, ApiKey, key_id, what="API key", field="key_id")
    raw = new_token("sk")
    key.key_hash, key.prefix, key.revoked_at = token_hash(raw), raw[:7], None
    session.flush()
    return raw


def revoke_api_key(*, session: Session, key_id: int, now: datetime | None = None) -> None:
    key = get_or_404(session, ApiKey, key_id, what="API key", field="key_id")
    key.revoked_at = now or utcnow()
    session.flush()


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


def add_notification_rule(
    *, session: Session, user_id: int, contact_method_id: int, delay_minutes: int = 0
) -> NotificationRule:
    method = session.get(ContactMethod, contact_method_id)
    if method is None or method.user_id != user_id:
        raise Invalid(
            "contact_method_id must be one of the user's contact methods", field="contact_method_id"
        )
    if not 0 <= delay_minutes <= 24 * 60:
        raise Invalid("delay_minutes must be between 0 and 1440", field="delay_minutes")
    rule = NotificationRule(user_id=user_id, contact_method_id=contact_method_id, delay_minutes=delay_minutes)
    session.add(rule)
    session.flush()
    return rule


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
            .order_by(NotificationRule.delay_minutes)
        )
    )
