"""Many firing alerts of one group in a few statements: the fast path behind record_alert_events.

When the group's incident is open, it is locked and all new alerts are inserted with one
INSERT … ON CONFLICT DO NOTHING and their events with one more. Otherwise the first new alert goes
through incidents.trigger_or_group, which opens or re-opens the incident (its row stays locked
until commit), and the rest follow in bulk. Anything a concurrent request inserted first falls
back to trigger_or_group one by one, which reports it as a duplicate.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from app.alerts.events import AlertEvent
from app.incidents import service as incidents
from app.incidents.logic import max_severity
from app.incidents.models import Alert, Incident


@dataclass(frozen=True)
class GroupTarget:
    service_id: int
    dedup_key: str
    integration_id: int | None
    flap_window: timedelta
    actor: str


def _firing(
    session: Session, target: GroupTarget, fingerprints: list[str]
) -> dict[str, tuple[int, int | None]]:
    cond = (
        Alert.integration_id.is_(None)
        if target.integration_id is None
        else Alert.integration_id == target.integration_id
    )
    rows = session.execute(
        select(Alert.fingerprint, Alert.id, Alert.incident_id).where(
            cond,
            Alert.service_id == target.service_id,
            Alert.fingerprint.in_(fingerprints),
            Alert.status == "firing",
        )
    )
    return {fp: (alert_id, incident_id) for fp, alert_id, incident_id in rows}


def _lock_open_incident(session: Session, target: GroupTarget) -> Incident | None:
    """The open incident of the group, row-locked until commit (so a concurrent resolve waits)."""
    stmt = (
        select(Incident)
        .where(
            Incident.service_id == target.service_id,
            Incident.dedup_key == target.dedup_key,
            Incident.status != "resolved",
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.scalar(stmt)


def _one(session: Session, target: GroupTarget, event: AlertEvent, now: datetime) -> incidents.GroupResult:
    return incidents.trigger_or_group(
        session=session,
        service_id=target.service_id,
        dedup_key=target.dedup_key,
        alert=event,
        integration_id=target.integration_id,
        flap_window=target.flap_window,
        now=now,
        actor=target.actor,
    )


# All rows travel as one JSON parameter: the statement text stays short and constant, so it is
# prepared once per connection instead of re-parsed per batch as a long multi-row VALUES list.
_INSERT_ALERTS = text("""
INSERT INTO alerts (integration_id, service_id, incident_id, fingerprint, dedup_key, status, severity,
                    summary, source, labels, annotations, links, raw, sanitised, starts_at, ends_at,
                    received_at, last_received_at)
SELECT :integration_id, :service_id, :incident_id, r.fingerprint, r.dedup_key, 'firing', r.severity,
       r.summary, r.source, r.labels, r.annotations, r.links, r.raw, r.sanitised, r.starts_at, r.ends_at,
       :now, :now
FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(
    fingerprint text, dedup_key text, severity text, summary text, source text, labels jsonb,
    annotations jsonb, links jsonb, raw jsonb, sanitised jsonb, starts_at timestamptz, ends_at timestamptz)
ON CONFLICT (service_id, integration_id, fingerprint) WHERE status = 'firing' DO NOTHING
RETURNING fingerprint, id
""")


def _alert_row(event: AlertEvent) -> dict[str, object]:
    return {
        "fingerprint": event.fingerprint,
        "dedup_key": event.dedup_key,
        "severity": event.severity,
        "summary": event.summary,
        "source": event.source,
        "labels": event.labels,
        "annotations": event.annotations,
        "links": event.links,
        "raw": event.raw,
        "sanitised": list(event.sanitised),
        "starts_at": event.starts_at.isoformat() if event.starts_at else None,
        "ends_at": event.ends_at.isoformat() if event.ends_at else None,
    }


def _group_rest(
    session: Session, incident: Incident, target: GroupTarget, rest: Sequence[AlertEvent], now: datetime
) -> dict[str, int]:
    """Insert the remaining alerts into the (locked) incident; fingerprint → new alert id."""
    # A row another request inserted first is skipped by ON CONFLICT and not returned.
    params = {
        "integration_id": target.integration_id,
        "service_id": incident.service_id,
        "incident_id": incident.id,
        "now": now,
        "rows": json.dumps([_alert_row(e) for e in rest], default=str),
    }
    inserted = {fp: alert_id for fp, alert_id in session.execute(_INSERT_ALERTS, params)}
    added = [e for e in rest if e.fingerprint in inserted]
    if not added:
        return inserted
    incident.alert_count += len(added)
    incident.severity = reduce(max_severity, (e.severity for e in added), incident.severity)
    incident.updated_at = now
    events = [
        {"alert_id": inserted[e.fingerprint], "fingerprint": e.fingerprint, "summary": e.summary}
        for e in added
    ]
    incidents.record_events(
        session=session,
        incident_id=incident.id,
        kind="alert_grouped",
        at=now,
        actor=target.actor,
        data=events,
    )
    return inserted


@dataclass
class GroupOutcome:
    outcomes: list[incidents.Outcome]  # one per event, in order
    touched: list[int]  # incident ids
    opened: list[Incident]  # incidents created or re-opened (their escalation is due)


def trigger_group(
    *, session: Session, target: GroupTarget, events: Sequence[AlertEvent], now: datetime
) -> GroupOutcome:
    """Apply the firing alerts of one (service, dedup key)."""
    outcomes: list[incidents.Outcome] = ["duplicate"] * len(events)
    opened: list[Incident] = []
    touched: list[int] = []
    existing = _firing(session, target, [e.fingerprint for e in events])
    if existing:
        # Retries and repeat notifications: only "last heard of" moves.
        ids = [alert_id for alert_id, _ in existing.values()]
        session.execute(update(Alert).where(Alert.id.in_(ids)).values(last_received_at=now))
        touched.extend(dict.fromkeys(i for _, i in existing.values() if i is not None))
    seen: set[str] = set(existing)
    new: list[int] = []
    for index, event in enumerate(events):
        if event.fingerprint not in seen:
            seen.add(event.fingerprint)
            new.append(index)
    if not new:
        return GroupOutcome(outcomes, touched, opened)
    incident = _lock_open_incident(session, target)
    rest = new
    if incident is None:
        # Nothing open: the first alert opens (or re-opens within the flap window) the incident.
        head = _one(session, target, events[new[0]], now)
        outcomes[new[0]] = head.outcome
        touched.append(head.incident.id)
        rest = new[1:]
        if head.outcome in ("created", "reopened"):
            opened.append(head.incident)
        # A duplicate means a concurrent request stored it first: the rest then go one by one.
        incident = head.incident if head.outcome != "duplicate" else None
    if rest and incident is not None:
        inserted = _group_rest(session, incident, target, [events[i] for i in rest], now)
        for i in rest:
            if events[i].fingerprint in inserted:
                outcomes[i] = "grouped"
        touched.append(incident.id)
        rest = [i for i in rest if events[i].fingerprint not in inserted]
    for i in rest:
        one = _one(session, target, events[i], now)
        outcomes[i] = one.outcome
        touched.append(one.incident.id)
        if one.outcome in ("created", "reopened"):
            opened.append(one.incident)
    session.flush()
    return GroupOutcome(outcomes, list(dict.fromkeys(touched)), opened)
