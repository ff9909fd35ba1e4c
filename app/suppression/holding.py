"""What silences and maintenance windows hold: which are active now, and what they keep from paging.

Two hooks call in here: ingest (`apply_at_ingest`, once per batch of alerts) and the escalation
guard (`hold`, once per due step). Both leave Postgres saying why an incident pages nobody
(`incidents.suppressed_by`) and when to look again (`next_escalation_at` = the end of the silence or
window), so the sweeper resumes paging from level 0 for whatever still fires when it ends.
The caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.directory.models import Integration, Service
from app.escalation.restart import restart_plan
from app.incidents.models import Alert, Incident
from app.incidents.service import record_event
from app.suppression.logic import ActiveSilence, AlertFields, Matcher, silenced_by
from app.suppression.models import MaintenanceWindow, MaintenanceWindowService, Silence

MAX_ALERTS_CHECKED = 500


def _active_silences(session: Session, now: datetime) -> list[ActiveSilence]:
    rows = session.execute(
        select(Silence.id, Silence.matchers, Silence.ends_at).where(
            Silence.starts_at <= now, Silence.ends_at > now
        )
    )
    return [ActiveSilence(sid, tuple(Matcher(**m) for m in matchers), ends) for sid, matchers, ends in rows]


def _active_windows(
    session: Session, now: datetime, service_ids: Iterable[int]
) -> dict[int, tuple[int, datetime]]:
    """service id → (window id, end) of the longest active window on it."""
    ids = list(service_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(MaintenanceWindowService.service_id, MaintenanceWindow.id, MaintenanceWindow.ends_at)
        .join(MaintenanceWindow, MaintenanceWindow.id == MaintenanceWindowService.window_id)
        .where(
            MaintenanceWindowService.service_id.in_(ids),
            MaintenanceWindow.starts_at <= now,
            MaintenanceWindow.ends_at > now,
        )
        .order_by(MaintenanceWindow.ends_at)
    )
    return {service_id: (window_id, ends) for service_id, window_id, ends in rows}


def _fields(session: Session, alert: Alert, kinds: dict[int | None, str]) -> AlertFields:
    service = session.get(Service, alert.service_id)
    if alert.integration_id not in kinds:
        integration = session.get(Integration, alert.integration_id) if alert.integration_id else None
        kinds[alert.integration_id] = integration.kind if integration is not None else ""
    return AlertFields(
        service=service.name if service is not None else "",
        severity=alert.severity,
        source=kinds[alert.integration_id],
        labels=alert.labels or {},
    )


def _verdict(session: Session, incident: Incident, now: datetime) -> tuple[str, datetime] | None:
    """Why the incident must not page now and until when, or None."""
    window = _active_windows(session, now, [incident.service_id]).get(incident.service_id)
    if window is not None:
        return f"maintenance:{window[0]}", window[1]
    silences = _active_silences(session, now)
    if not silences:
        return None
    firing = session.scalars(
        select(Alert)
        .where(Alert.incident_id == incident.id, Alert.status == "firing")
        .limit(MAX_ALERTS_CHECKED)
    ).all()
    if not firing:
        return None
    kinds: dict[int | None, str] = {}
    held = [silenced_by(silences, _fields(session, a, kinds)) for a in firing]
    if any(s is None for s in held):
        return None  # one alert that nothing silences is enough to page
    first = min((s for s in held if s is not None), key=lambda s: s.ends_at)
    return f"silence:{first.id}", first.ends_at


def _release(session: Session, incident: Incident, now: datetime) -> None:
    record_event(
        session=session,
        incident_id=incident.id,
        kind="unsuppressed",
        at=now,
        data={"was": incident.suppressed_by, "restart_level": 0},
    )
    incident.suppressed_by = None
    restart_plan(incident, now)


def hold(*, session: Session, incident: Incident, now: datetime) -> str | None:
    """For a triggered incident (row locked by the caller): why it must not page now, or None.

    A held incident is marked and told to look again when what holds it ends; one that was held
    and no longer is restarts its plan from level 0 now.
    """
    verdict = _verdict(session, incident, now)
    if verdict is None:
        if incident.suppressed_by is not None:
            _release(session, incident, now)
        return None
    reason, until = verdict
    if incident.suppressed_by != reason:
        record_event(
            session=session,
            incident_id=incident.id,
            kind="suppressed",
            at=now,
            data={"by": reason, "until": until.isoformat()},
        )
    incident.suppressed_by = reason
    incident.next_escalation_at = until
    return reason


def apply_at_ingest(*, session: Session, incident_ids: Sequence[int], now: datetime) -> list[tuple[int, str]]:
    """Mark the alerts stored at `now` that a window or silence mutes, and hold their incidents.

    Returns (incident id, token) for every touched incident that must page now (a held one whose
    new alert nothing silences); the caller drops held incidents from its pages by re-checking
    `next_escalation_at`.
    """
    if not incident_ids:
        return []
    incidents = [i for i in (session.get(Incident, n) for n in incident_ids) if i is not None]
    silences = _active_silences(session, now)
    windows = _active_windows(session, now, {i.service_id for i in incidents})
    if not silences and not windows and not any(i.suppressed_by for i in incidents):
        return []  # the common case: two indexed look-ups and nothing else
    _mark_new_alerts(session, incident_ids, now, silences, windows)
    kicks = []
    for incident in incidents:
        if incident.status != "triggered" or incident.next_escalation_at is None:
            continue
        was = incident.suppressed_by
        hold(session=session, incident=incident, now=now)
        if was is not None and incident.suppressed_by is None and incident.next_escalation_at is not None:
            kicks.append((incident.id, incident.escalation_token or ""))
    session.flush()
    return kicks


def _mark_new_alerts(
    session: Session,
    incident_ids: Sequence[int],
    now: datetime,
    silences: list[ActiveSilence],
    windows: dict[int, tuple[int, datetime]],
) -> None:
    new = session.scalars(
        select(Alert).where(Alert.incident_id.in_(incident_ids), Alert.received_at == now)
    ).all()
    kinds: dict[int | None, str] = {}
    for alert in new:
        window = windows.get(alert.service_id)
        if window is not None:
            alert.suppressed_by = f"maintenance:{window[0]}"
            continue
        silence = silenced_by(silences, _fields(session, alert, kinds))
        if silence is not None:
            alert.suppressed_by = f"silence:{silence.id}"
