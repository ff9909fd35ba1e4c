"""Directory: services, integrations and API keys (users and teams live in app.directory.people).

The people functions are re-exported here, so `from app.directory import service` reaches the whole
directory.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.secrets import new_token, token_hash
from app.db import get_or_404, utcnow
from app.directory.models import ROLES, SOURCE_KINDS, ApiKey, Integration, Service, Team
from app.directory.people import _insert
from app.directory.people import add_contact_method as add_contact_method
from app.directory.people import add_member as add_member
from app.directory.people import add_notification_rule as add_notification_rule
from app.directory.people import all_memberships as all_memberships
from app.directory.people import check_zone as check_zone
from app.directory.people import contact_methods_of as contact_methods_of
from app.directory.people import create_team as create_team
from app.directory.people import create_user as create_user
from app.directory.people import get_user as get_user
from app.directory.people import list_teams as list_teams
from app.directory.people import list_users as list_users
from app.directory.people import mark_incidents_seen as mark_incidents_seen
from app.directory.people import notification_rules_of as notification_rules_of
from app.directory.people import remove_contact_method as remove_contact_method
from app.directory.people import remove_member as remove_member
from app.directory.people import set_password as set_password
from app.directory.people import team_members as team_members
from app.directory.people import teams_of as teams_of
from app.directory.people import update_user as update_user
from app.directory.people import user_by_email as user_by_email
from app.directory.people import user_by_slack_id as user_by_slack_id
from app.errors import Invalid, NotFound
from app.escalation.models import EscalationPolicy
from app.incidents.models import SEVERITIES

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")


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


def set_important_severities(*, session: Session, service_id: int, severities: list[str]) -> Service:
    """Which severities of this service's pages run people's "important" notification rules."""
    service = get_service(session=session, service_id=service_id)
    unknown = sorted(set(severities) - set(SEVERITIES))
    if unknown:
        raise Invalid(
            f"severities must be among {', '.join(SEVERITIES)} (not {', '.join(unknown)})", field="severities"
        )
    service.important_severities = [s for s in SEVERITIES if s in severities]
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
    token: str | None = None,
) -> tuple[Integration, str]:
    """Create an integration; returns it with its raw token, which is never stored or shown again.

    `token` keeps the one a sender already has (an integration imported from Grafana OnCall).
    """
    if kind not in SOURCE_KINDS:
        raise Invalid(f"kind must be one of {', '.join(SOURCE_KINDS)}", field="kind")
    if not name.strip():
        raise Invalid("name must not be empty", field="name")
    if flap_window_seconds < 0:
        raise Invalid("flap_window_seconds must be >= 0", field="flap_window_seconds")
    get_service(session=session, service_id=service_id)
    if token is not None and not _TOKEN.match(token):
        raise Invalid("token must be 16 to 128 letters, digits, '-' or '_'", field="token")
    token = token or new_token("whk")
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
