"""Resolve notices from a source, many at a time: mark alerts resolved, auto-resolve their incidents.

Alerts are found by integration and fingerprint, not by routed service, so a routing rule edited
between trigger and resolve never strands a firing alert. Row locks are taken in id order (alerts,
then incidents), the order the trigger path takes them too, so concurrent deliveries queue rather
than deadlock.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from app.alerts.events import AlertEvent
from app.incidents import service as incidents
from app.incidents.models import Alert, Incident

# The scope is chosen from these two fixed fragments, never built from input.
_SCOPE = {
    True: "a.integration_id = :integration_id",
    False: "a.integration_id IS NULL AND a.service_id = :service_id",
}
_RESOLVE = """
WITH r AS (
    SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(fingerprint text, ends_at timestamptz)
), target AS (
    SELECT a.id, r.ends_at FROM alerts a JOIN r ON a.fingerprint = r.fingerprint
    WHERE {scope} AND a.status = 'firing'
    ORDER BY a.id
    FOR UPDATE OF a
)
UPDATE alerts SET status = 'resolved', ends_at = COALESCE(target.ends_at, :now), last_received_at = :now
FROM target WHERE alerts.id = target.id AND alerts.status = 'firing'
RETURNING alerts.id, alerts.fingerprint, alerts.incident_id
"""
_STATEMENTS = {scoped: text(_RESOLVE.format(scope=cond)) for scoped, cond in _SCOPE.items()}


@dataclass(frozen=True)
class ResolveScope:
    integration_id: int | None
    service_id: int
    auto_resolve: bool
    actor: str


def _previously_resolved(
    session: Session, scope: ResolveScope, fingerprints: list[str]
) -> dict[str, int | None]:
    """For resolves that found nothing firing: the incident of the latest resolved alert, if any."""
    if not fingerprints:
        return {}
    cond = (
        Alert.integration_id.is_(None) & (Alert.service_id == scope.service_id)
        if scope.integration_id is None
        else Alert.integration_id == scope.integration_id
    )
    rows = session.execute(
        select(Alert.fingerprint, Alert.incident_id)
        .where(cond, Alert.fingerprint.in_(fingerprints), Alert.status == "resolved")
        .ext(distinct_on(Alert.fingerprint))
        .order_by(Alert.fingerprint, Alert.id.desc())
    )
    return {fp: incident_id for fp, incident_id in rows}


def _lock_incidents(session: Session, incident_ids: list[int]) -> None:
    """Lock the incidents before anything references them: inserting their events takes a key-share
    lock, and two deliveries upgrading key-share to update on one incident would deadlock."""
    session.execute(
        select(Incident.id).where(Incident.id.in_(incident_ids)).order_by(Incident.id).with_for_update()
    ).all()


def _auto_resolve(session: Session, scope: ResolveScope, incident_ids: list[int], now: datetime) -> None:
    for incident_id in incident_ids:
        incident = session.get(Incident, incident_id, populate_existing=True)
        if incident is None or incident.status == "resolved":
            continue
        firing = session.scalar(
            select(func.count())
            .select_from(Alert)
            .where(Alert.incident_id == incident_id, Alert.status == "firing")
        )
        if not firing:
            incidents.resolve(
                session=session, incident_id=incident_id, by=None, actor=scope.actor, kind="source", now=now
            )


def resolve_alerts(
    *, session: Session, scope: ResolveScope, events: Sequence[AlertEvent], now: datetime
) -> list[tuple[str, int | None]]:
    """Apply resolve notices: per event (resolved|duplicate|unknown, incident id)."""
    rows = [
        {"fingerprint": e.fingerprint, "ends_at": e.ends_at.isoformat() if e.ends_at else None}
        for e in {e.fingerprint: e for e in reversed(events)}.values()
    ]
    params = {
        "rows": json.dumps(rows),
        "now": now,
        "integration_id": scope.integration_id,
        "service_id": scope.service_id,
    }
    resolved = {
        fp: (alert_id, incident_id)
        for alert_id, fp, incident_id in session.execute(
            _STATEMENTS[scope.integration_id is not None], params
        )
    }
    touched = sorted({i for _, i in resolved.values() if i is not None})
    if scope.auto_resolve and touched:
        # Locked before counting too, so two deliveries resolving an incident's last alerts
        # serialise and the second one sees the first's change.
        _lock_incidents(session, touched)
    by_incident: dict[int, list[dict[str, object]]] = {}
    for fp, (alert_id, incident_id) in resolved.items():
        if incident_id is not None:
            by_incident.setdefault(incident_id, []).append({"alert_id": alert_id, "fingerprint": fp})
    for incident_id, data in by_incident.items():
        incidents.record_events(
            session=session,
            incident_id=incident_id,
            kind="alert_resolved",
            at=now,
            actor=scope.actor,
            data=data,
        )
    session.flush()
    if scope.auto_resolve and touched:
        _auto_resolve(session, scope, touched, now)
    earlier = _previously_resolved(
        session, scope, [r["fingerprint"] for r in rows if r["fingerprint"] not in resolved]
    )
    out: list[tuple[str, int | None]] = []
    first_seen: set[str] = set()
    for e in events:
        if e.fingerprint in resolved and e.fingerprint not in first_seen:
            out.append(("resolved", resolved[e.fingerprint][1]))
        elif e.fingerprint in resolved or e.fingerprint in earlier:
            # A retried or repeated resolve: the same answer as the first time, nothing changes.
            incident_id = resolved[e.fingerprint][1] if e.fingerprint in resolved else earlier[e.fingerprint]
            out.append(("duplicate", incident_id))
        else:
            out.append(("unknown", None))
        first_seen.add(e.fingerprint)
    return out
