"""Shared setup of the public API tests: people, teams, services, keys and incidents, committed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.alerts import service as alerts
from app.auth.apikeys import create_key
from app.db import session_scope
from app.directory.models import Integration
from app.incidents.models import Incident
from tests import factories as f


@dataclass
class World:
    """Two teams (A, B), each with a service; an admin, a lead and responder of A, a viewer."""

    admin: int
    lead_a: int
    responder_a: int
    responder_b: int
    viewer: int
    team_a: int
    team_b: int
    service_a: int
    service_b: int
    integration_a: int
    token_a: str


def world() -> World:
    with session_scope() as s:
        admin = f.user(s, role="admin")
        lead_a, responder_a, responder_b = f.user(s), f.user(s), f.user(s)
        viewer = f.user(s, role="viewer")
        team_a = f.team(s, members=[(lead_a, "lead"), (responder_a, "responder"), (viewer, "viewer")])
        team_b = f.team(s, members=[(responder_b, "responder")])
        service_a = f.service(s, team_id=team_a.id, policy_id=f.policy_for(s, [responder_a]))
        service_b = f.service(s, team_id=team_b.id)
        integ, token = f.integration(s, service_a.id, "generic")
        return World(
            admin.id,
            lead_a.id,
            responder_a.id,
            responder_b.id,
            viewer.id,
            team_a.id,
            team_b.id,
            service_a.id,
            service_b.id,
            integ.id,
            token,
        )


def key(
    user_id: int,
    scopes: tuple[str, ...] = ("incidents:write", "config:write"),
    *,
    team_id: int | None = None,
    expires_at: datetime | None = None,
) -> str:
    with session_scope() as s:
        _, raw = create_key(
            session=s, by=user_id, name="test", scopes=list(scopes), team_id=team_id, expires_at=expires_at
        )
        return raw


def auth(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def incident(service_id: int, title: str = "Disk full", **kw: Any) -> int:
    """Open an incident through the ingest path (a generic alert on the service)."""
    with session_scope() as s:
        integ = s.query(Integration).filter_by(service_id=service_id).first()
        if integ is None:
            integ, _ = f.integration(s, service_id, "generic")
        result = alerts.record_alert_events(
            session=s, integration=integ, events=[f.alert(dedup_key=f"k-{f.n()}", summary=title, **kw)]
        )
        return result.incidents[0]


def status_of(incident_id: int) -> str:
    with session_scope() as s:
        inc = s.get(Incident, incident_id)
        assert inc is not None
        return inc.status
