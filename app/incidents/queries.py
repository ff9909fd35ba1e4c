"""Read-only questions the console asks about incidents: filtered lists, counts, response times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from app.directory.models import Service, Team, User
from app.incidents.models import SEVERITIES, Alert, Incident
from app.notifications.models import Delivery

OPEN = ("triggered", "acknowledged")


@dataclass(frozen=True)
class IncidentFilter:
    """What the incident list shows; an empty tuple means no restriction on that field."""

    statuses: tuple[str, ...] = OPEN
    service_ids: tuple[int, ...] = ()
    team_ids: tuple[int, ...] = ()
    severities: tuple[str, ...] = ()
    assignee_id: int | None = None
    # Open incidents assigned to or acknowledged by this user ("my incidents").
    involving_user_id: int | None = None
    since: datetime | None = None
    oldest_first: bool = True
    # Triage order: critical before error before warning before info, newest first within a severity.
    most_severe_first: bool = False
    limit: int = 200


@dataclass(frozen=True)
class IncidentRow:
    id: int
    number: int
    title: str
    severity: str
    status: str
    service_id: int
    service: str
    team_id: int | None
    team: str | None
    assignee_id: int | None
    assignee: str | None
    alert_count: int
    created_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    snoozed_until: datetime | None
    suppressed_by: str | None = None  # "maintenance:<id>" / "silence:<id>" while pages are held


def _conditions(f: IncidentFilter) -> list:
    conds = []
    if f.statuses:
        conds.append(Incident.status.in_(f.statuses))
    if f.service_ids:
        conds.append(Incident.service_id.in_(f.service_ids))
    if f.team_ids:
        conds.append(Service.team_id.in_(f.team_ids))
    if f.severities:
        conds.append(Incident.severity.in_(f.severities))
    if f.assignee_id is not None:
        conds.append(Incident.assignee_id == f.assignee_id)
    if f.involving_user_id is not None:
        uid = f.involving_user_id
        # "Paging you": a delivery to you at the level the escalation stands at now.
        paging = (
            select(Delivery.id)
            .where(
                Delivery.incident_id == Incident.id,
                Delivery.user_id == uid,
                Delivery.level == Incident.current_level,
            )
            .exists()
        )
        conds.append(
            or_(
                Incident.assignee_id == uid,
                Incident.acknowledged_by == uid,
                and_(Incident.status == "triggered", paging),
            )
        )
    if f.since is not None:
        conds.append(Incident.created_at >= f.since)
    return conds


def search_incidents(*, session: Session, filters: IncidentFilter) -> list[IncidentRow]:
    """Incidents matching the filter with their service, team and assignee names, sorted by age."""
    assignee = aliased(User)
    order = Incident.created_at.asc() if filters.oldest_first else Incident.created_at.desc()
    orders = [order, Incident.id]
    if filters.most_severe_first:
        rank = case({s: i for i, s in enumerate(SEVERITIES)}, value=Incident.severity, else_=len(SEVERITIES))
        orders = [rank, Incident.created_at.desc(), Incident.id.desc()]
    stmt = (
        select(
            Incident.id,
            Incident.number,
            Incident.title,
            Incident.severity,
            Incident.status,
            Incident.service_id,
            Service.name,
            Service.team_id,
            Team.name,
            Incident.assignee_id,
            assignee.name,
            Incident.alert_count,
            Incident.created_at,
            Incident.acknowledged_at,
            Incident.resolved_at,
            Incident.snoozed_until,
            Incident.suppressed_by,
        )
        .join(Service, Service.id == Incident.service_id)
        .outerjoin(Team, Team.id == Service.team_id)
        .outerjoin(assignee, assignee.id == Incident.assignee_id)
        .where(*_conditions(filters))
        .order_by(*orders)
        .limit(max(1, min(filters.limit, 5000)))
    )
    return [IncidentRow(*row) for row in session.execute(stmt)]


@dataclass(frozen=True)
class OpenCount:
    service: str
    severity: str
    count: int


def open_counts(*, session: Session) -> list[OpenCount]:
    """Open incidents counted per service and severity."""
    stmt = (
        select(Service.name, Incident.severity, func.count())
        .join(Service, Service.id == Incident.service_id)
        .where(Incident.status.in_(OPEN))
        .group_by(Service.name, Incident.severity)
        .order_by(Service.name)
    )
    return [OpenCount(service=s, severity=sev, count=int(c)) for s, sev, c in session.execute(stmt)]


@dataclass(frozen=True)
class ResponseTimes:
    """Mean time to acknowledge and to resolve, over incidents created in a window."""

    incidents: int
    mtta_s: float | None
    mttr_s: float | None


def response_times(*, session: Session, since: datetime, until: datetime) -> ResponseTimes:
    """MTTA and MTTR of incidents triggered in [since, until), judged at `until`.

    The definitions of analytics.metrics.mtta_mttr (its mean columns), read live from Postgres: an
    acknowledgement or final resolve at or after `until` has not happened yet as far as the window goes.
    """
    ack = func.extract("epoch", Incident.acknowledged_at - Incident.created_at)
    res = func.extract("epoch", Incident.resolved_at - Incident.created_at)
    acked = Incident.acknowledged_at < until
    resolved = and_(Incident.status == "resolved", Incident.resolved_at < until)
    stmt = select(
        func.count(),
        func.avg(case((acked, ack))),
        func.avg(case((resolved, res))),
    ).where(Incident.created_at >= since, Incident.created_at < until)
    count, mtta, mttr = session.execute(stmt).one()
    return ResponseTimes(
        incidents=int(count),
        mtta_s=float(mtta) if mtta is not None else None,
        mttr_s=float(mttr) if mttr is not None else None,
    )


@dataclass(frozen=True)
class DeliveryRow:
    created_at: datetime
    user: str | None
    channel: str
    target: str | None
    level: int
    repeat_index: int
    status: str
    attempts: int
    sent_at: datetime | None
    last_error: str | None
    due_at: datetime | None = None  # a rule list's later steps wait until then
    provider_status: str | None = None  # e.g. Twilio's delivered / no-answer


def deliveries_of(*, session: Session, incident_id: int) -> list[DeliveryRow]:
    """Who was paged for an incident, how and with what outcome, oldest first."""
    stmt = (
        select(
            Delivery.created_at,
            User.name,
            Delivery.channel,
            Delivery.target,
            Delivery.level,
            Delivery.repeat_index,
            Delivery.status,
            Delivery.attempts,
            Delivery.sent_at,
            Delivery.last_error,
            Delivery.due_at,
            Delivery.provider_status,
        )
        .outerjoin(User, User.id == Delivery.user_id)
        .where(Delivery.incident_id == incident_id)
        .order_by(Delivery.created_at, Delivery.id)
    )
    return [DeliveryRow(*row) for row in session.execute(stmt)]


@dataclass(frozen=True)
class AlertRow:
    received_at: datetime
    last_received_at: datetime
    status: str
    severity: str
    summary: str
    incident_id: int | None
    incident_number: int | None


def recent_alerts(*, session: Session, integration_id: int, limit: int = 20) -> list[AlertRow]:
    """The latest alerts an integration delivered, newest first, with the incident each joined."""
    stmt = (
        select(
            Alert.received_at,
            Alert.last_received_at,
            Alert.status,
            Alert.severity,
            Alert.summary,
            Alert.incident_id,
            Incident.number,
        )
        .outerjoin(Incident, Incident.id == Alert.incident_id)
        .where(Alert.integration_id == integration_id)
        .order_by(Alert.received_at.desc(), Alert.id.desc())
        .limit(limit)
    )
    return [AlertRow(*row) for row in session.execute(stmt)]
