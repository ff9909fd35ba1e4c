"""Direct paging: page people or teams now, with an ad-hoc escalation frozen onto a new incident.

Level 0 pages every target (a team: all its active members); if nobody acknowledges within
`lead_after_minutes`, level 1 pages the leads of the targets' teams (people already paged are not
paged twice). Unless a service is given, the incident lives on a built-in "Direct pages" service
of the first target's team (so that team's responders may acknowledge it), or on the team-less
"Direct pages" service when no target belongs to a team.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.alerts.events import AlertEvent, Severity
from app.auth.permissions import RESPONDERS_ONLY
from app.db import get_or_404, utcnow
from app.directory.models import Service, Team, TeamMembership, User
from app.errors import Forbidden, Invalid
from app.incidents import service as incidents
from app.incidents.models import Incident

DIRECT_SERVICE = "Direct pages"
MAX_TARGETS = 50
SEVERITIES = ("critical", "error", "warning", "info")


@dataclass(frozen=True)
class DirectPage:
    """The incident a direct page opened, and the escalation to enqueue after commit."""

    incident: Incident
    kick: tuple[int, str]


def _home_team(session: Session, user_ids: list[int], team_ids: list[int]) -> Team | None:
    if team_ids:
        return session.get(Team, team_ids[0])
    for user_id in user_ids:
        team_id = session.scalar(
            select(TeamMembership.team_id)
            .where(TeamMembership.user_id == user_id, TeamMembership.role != "viewer")
            .order_by(TeamMembership.team_id)
            .limit(1)
        )
        if team_id is not None:
            return session.get(Team, team_id)
    return None


def _direct_service(session: Session, team: Team | None) -> int:
    name = DIRECT_SERVICE if team is None else f"{DIRECT_SERVICE} · {team.name}"[:200]
    # Created on first use; ON CONFLICT makes two first pages at once agree on one service.
    session.execute(
        insert(Service)
        .values(
            name=name,
            description="Incidents opened by paging people directly",
            team_id=team.id if team is not None else None,
        )
        .on_conflict_do_nothing(index_elements=["name"])
    )
    return session.scalar(select(Service.id).where(Service.name == name))  # type: ignore[return-value]


def _active_users(session: Session, user_ids: Sequence[int]) -> list[int]:
    for user_id in user_ids:
        user = get_or_404(session, User, user_id, what="user", field="user_ids")
        if not user.active:
            raise Invalid(f"user {user_id} is deactivated", field="user_ids")
    return list(dict.fromkeys(user_ids))


def _leads(session: Session, user_ids: list[int], team_ids: list[int], paged: set[int]) -> list[int]:
    """Leads of the target teams and of the target people's teams, minus those paged already."""
    teams = set(team_ids)
    if user_ids:
        teams |= set(
            session.scalars(select(TeamMembership.team_id).where(TeamMembership.user_id.in_(user_ids)))
        )
    if not teams:
        return []
    leads = session.scalars(
        select(TeamMembership.user_id)
        .join(User, User.id == TeamMembership.user_id)
        .where(TeamMembership.team_id.in_(teams), TeamMembership.role == "lead", User.active.is_(True))
        .order_by(TeamMembership.user_id)
    )
    return [u for u in dict.fromkeys(leads) if u not in paged]


def _target(kind: str, **ids: Any) -> dict[str, Any]:
    return {"id": None, "kind": kind, "user_id": None, "schedule_id": None, "team_id": None,
            "slack_channel": None, "team_mode": "all", **ids}  # fmt: skip


def ad_hoc_plan(
    session: Session, user_ids: list[int], team_ids: list[int], lead_after_minutes: float
) -> dict[str, Any]:
    """The frozen escalation snapshot of a direct page."""
    first = [_target("user", user_id=u) for u in user_ids] + [_target("team", team_id=t) for t in team_ids]
    members = set(user_ids) | set(
        session.scalars(select(TeamMembership.user_id).where(TeamMembership.team_id.in_(team_ids)))
    )
    leads = _leads(session, user_ids, team_ids, members)
    levels = [{"position": 0, "delay_minutes": lead_after_minutes, "targets": first}]
    if leads:
        levels.append(
            {"position": 1, "delay_minutes": 0, "targets": [_target("user", user_id=u) for u in leads]}
        )
    return {"levels": levels, "repeat_count": 0}


def page(
    *,
    session: Session,
    message: str,
    by: int | None,
    user_ids: Sequence[int] = (),
    team_ids: Sequence[int] = (),
    severity: Severity = "critical",
    lead_after_minutes: float = 5,
    service_id: int | None = None,
    actor: str | None = None,
    now: datetime | None = None,
) -> DirectPage:
    """Open an incident that pages these people and teams now, then their leads if nobody acks."""
    now = now or utcnow()
    title = " ".join(message.split())
    if not title:
        raise Invalid("message must not be empty", field="message")
    if not user_ids and not team_ids:
        raise Invalid("page at least one user or team", field="user_ids")
    if len(user_ids) + len(team_ids) > MAX_TARGETS:
        raise Invalid(f"page at most {MAX_TARGETS} users and teams at once", field="user_ids")
    if severity not in SEVERITIES:
        raise Invalid(f"severity must be one of {', '.join(SEVERITIES)}", field="severity")
    if not 0 <= lead_after_minutes <= 24 * 60:
        raise Invalid("lead_after_minutes must be between 0 and 1440", field="lead_after_minutes")
    if by is not None and get_or_404(session, User, by, what="user", field="by").role not in (
        "admin",
        "responder",
    ):
        raise Forbidden(f"{RESPONDERS_ONLY} page people", field="by")
    users = _active_users(session, user_ids)
    teams = list(dict.fromkeys(team_ids))
    for team_id in teams:
        get_or_404(session, Team, team_id, what="team", field="team_ids")
    if service_id is not None:
        target_service = get_or_404(session, Service, service_id, what="service", field="service_id").id
    else:
        target_service = _direct_service(session, _home_team(session, users, teams))
    key = f"direct:{uuid.uuid4()}"
    alert = AlertEvent(
        fingerprint=key, dedup_key=key, action="trigger", summary=title[:1000], severity=severity,
        source="direct", annotations={"message": message[:5000]},
    )  # fmt: skip
    who = actor or (f"user:{by}" if by is not None else "system")
    incident = incidents.trigger_or_group(
        session=session, service_id=target_service, dedup_key=key, alert=alert, now=now, actor=who
    ).incident
    incident.escalation_policy_id = None
    incident.escalation_snapshot = ad_hoc_plan(session, users, teams, lead_after_minutes)
    incident.next_escalation_at = now
    incidents.record_event(
        session=session, incident_id=incident.id, kind="paged", at=now, actor=who, actor_user_id=by,
        data={"user_ids": users, "team_ids": teams, "lead_after_minutes": lead_after_minutes},
    )  # fmt: skip
    session.flush()
    return DirectPage(incident, (incident.id, incident.escalation_token or ""))
