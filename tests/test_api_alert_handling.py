"""/api/v1 silences, maintenance windows and direct paging through HTTP on real Postgres."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api import ids
from app.db import session_scope
from app.incidents.models import Incident, IncidentEvent
from app.suppression.models import MaintenanceWindow, Silence
from ingest.app import app
from tests.api_helpers import World, auth, key, world


@pytest.fixture()
def client(database_url: str, redis_env: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture()
def w(database_url: str) -> World:
    return world()


def _count(model: type) -> int:
    with session_scope() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def _field(r, status: int) -> str | None:  # noqa: ANN001
    assert r.status_code == status, r.text
    return r.json()["error"]["field"]


def test_silences_rights_errors_extend_and_expire(client: TestClient, w: World) -> None:
    me = auth(key(w.responder_a))
    body = {"matchers": [{"name": "alertname", "op": "=", "value": "DiskFull"}], "duration": 3600}
    # Scope, role and team limit refuse, naming the key; nothing is stored.
    assert _field(client.post("/api/v1/silences", json=body, headers=auth(key(w.viewer, ()))), 403)
    assert _field(client.post("/api/v1/silences", json=body, headers=auth(key(w.viewer))), 403) == "by"
    team_key = auth(key(w.responder_a, team_id=w.team_a))
    assert _field(client.post("/api/v1/silences", json=body, headers=team_key), 403) == "Authorization"
    bad_op = {**body, "matchers": [{"name": "alertname", "op": "~", "value": "x"}]}
    assert _field(client.post("/api/v1/silences", json=bad_op, headers=me), 400) == "matchers[0].op"
    bad_re = {**body, "matchers": [{"name": "alertname", "op": "=~", "value": "(disk"}]}
    assert "matchers[0]" in (_field(client.post("/api/v1/silences", json=bad_re, headers=me), 400) or "")
    no_end = {"matchers": body["matchers"]}
    assert _field(client.post("/api/v1/silences", json=no_end, headers=me), 400) == "ends_at"
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert (
        _field(client.post("/api/v1/silences", json={**no_end, "ends_at": past}, headers=me), 400)
        == "ends_at"
    )
    naive = {**no_end, "ends_at": "2030-01-01T00:00:00"}
    assert _field(client.post("/api/v1/silences", json=naive, headers=me), 400) == "ends_at"
    both = {**body, "ends_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}
    assert _field(client.post("/api/v1/silences", json=both, headers=me), 400) == "ends_at"
    far = {**body, "starts_at": "9999-12-31T23:00:00+00:00", "duration": 7200}
    assert _field(client.post("/api/v1/silences", json=far, headers=me), 400) == "starts_at"
    assert _count(Silence) == 0

    r = client.post("/api/v1/silences", json={**body, "comment": "rolling back"}, headers=me)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["state"] == "active" and made["created_by"] == ids.encode("user", w.responder_a)
    url = f"/api/v1/silences/{made['id']}"
    # Anyone may read, team-limited keys too.
    assert client.get(url, headers=auth(key(w.viewer, ()))).json()["matchers"] == body["matchers"]
    assert [s["id"] for s in client.get("/api/v1/silences", headers=team_key).json()["results"]] == [
        made["id"]
    ]
    later = datetime.now(UTC) + timedelta(hours=5)
    r = client.put(url, json={"ends_at": later.isoformat()}, headers=me)
    assert r.status_code == 200 and datetime.fromisoformat(r.json()["ends_at"]) == later
    assert _field(client.put(url, json={"ends_at": past}, headers=me), 400) == "ends_at"
    assert datetime.fromisoformat(client.get(url, headers=me).json()["ends_at"]) == later
    assert _field(client.delete(url, headers=auth(key(w.viewer))), 403) == "by"
    assert client.delete(url, headers=me).status_code == 204
    assert client.get(url, headers=me).json()["state"] == "expired"
    assert client.get("/api/v1/silences", headers=me).json()["count"] == 0
    assert client.get("/api/v1/silences?include_expired=true", headers=me).json()["count"] == 1
    assert _field(client.get("/api/v1/silences/L!!", headers=me), 404) == "silence_id"
    assert _field(client.get("/api/v1/silences/LZZZ", headers=me), 404) == "silence_id"


def test_maintenance_windows_rights_by_team_extend_and_end(client: TestClient, w: World) -> None:
    me = auth(key(w.responder_a))
    body = {"service_ids": [w.service_a], "duration": 1800, "reason": "db upgrade"}
    assert _field(client.post("/api/v1/maintenance_windows", json=body, headers=auth(key(w.viewer, ()))), 403)
    other = {**body, "service_ids": [w.service_a, w.service_b]}
    assert _field(client.post("/api/v1/maintenance_windows", json=other, headers=me), 403) == "by"
    team_key = auth(key(w.responder_a, team_id=w.team_a))
    r = client.post("/api/v1/maintenance_windows", json=other, headers=team_key)
    assert _field(r, 404) == "service_ids[1]"
    r = client.post("/api/v1/maintenance_windows", json={**body, "service_ids": [2**31 - 2]}, headers=me)
    assert _field(r, 404) == "service_ids[0]"
    r = client.post("/api/v1/maintenance_windows", json={**body, "service_ids": []}, headers=me)
    assert _field(r, 400) == "service_ids"
    assert _field(
        client.post("/api/v1/maintenance_windows", json={**body, "duration": 0}, headers=me), 400
    ) == ("duration")
    assert _count(MaintenanceWindow) == 0

    r = client.post("/api/v1/maintenance_windows", json=body, headers=team_key)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["service_ids"] == [w.service_a] and made["state"] == "active"
    url = f"/api/v1/maintenance_windows/{made['id']}"
    b_key = auth(key(w.responder_b, team_id=w.team_b))
    assert _field(client.get(url, headers=b_key), 404) == "window_id"
    assert client.get("/api/v1/maintenance_windows", headers=b_key).json()["count"] == 0
    listed = client.get(f"/api/v1/maintenance_windows?service_id={w.service_a}", headers=me).json()
    assert [x["id"] for x in listed["results"]] == [made["id"]]
    assert (
        client.get(f"/api/v1/maintenance_windows?service_id={w.service_b}", headers=me).json()["count"] == 0
    )
    later = datetime.now(UTC) + timedelta(hours=2)
    # Responder B may not act on service A: the window stays as it was.
    assert _field(client.put(url, json={"ends_at": later.isoformat()}, headers=auth(key(w.responder_b))), 403)
    assert _field(client.delete(url, headers=auth(key(w.responder_b))), 403)
    assert client.get(url, headers=me).json()["state"] == "active"
    r = client.put(url, json={"ends_at": later.isoformat()}, headers=me)
    assert r.status_code == 200 and datetime.fromisoformat(r.json()["ends_at"]) == later
    assert client.delete(url, headers=me).status_code == 204
    assert client.get(url, headers=me).json()["state"] == "expired"
    assert client.get("/api/v1/maintenance_windows?include_past=true", headers=me).json()["count"] == 1


def test_direct_paging_opens_an_incident_with_the_message_as_a_note(client: TestClient, w: World) -> None:
    me = auth(key(w.responder_a))
    target = ids.encode("user", w.responder_b)
    body = {
        "title": "Checkout is down",
        "message": "Please look at the payments pods",
        "users": [{"id": target}],
    }
    before = _count(Incident)
    assert _field(client.post("/api/v1/direct_paging", json=body, headers=auth(key(w.responder_a, ()))), 403)
    assert _field(client.post("/api/v1/direct_paging", json=body, headers=auth(key(w.viewer))), 403) == "by"
    r = client.post("/api/v1/direct_paging", json={**body, "users": [{"id": "U9ZZZZ"}]}, headers=me)
    assert _field(r, 404) == "user_ids"
    r = client.post("/api/v1/direct_paging", json={**body, "users": [{"id": "X1"}]}, headers=me)
    assert _field(r, 404) == "users[0].id"
    assert _field(client.post("/api/v1/direct_paging", json={"title": "x"}, headers=me), 400) == "body"
    r = client.post("/api/v1/direct_paging", json={"users": [{"id": target}], "title": " "}, headers=me)
    assert _field(r, 400) == "message"
    team_key = auth(key(w.responder_a, team_id=w.team_a))
    r = client.post(
        "/api/v1/direct_paging", json={**body, "team_id": ids.encode("team", w.team_b)}, headers=team_key
    )
    assert _field(r, 404) == "team_id"
    assert _field(client.post("/api/v1/direct_paging", json=body, headers=team_key), 404) == "users[0].id"
    assert _count(Incident) == before

    r = client.post("/api/v1/direct_paging", json=body, headers=me)
    assert r.status_code == 200, r.text
    gid = r.json()["alert_group_id"]
    group = client.get(f"/api/v1/alert_groups/{gid}", headers=me).json()
    assert group["title"] == "Checkout is down" and group["state"] == "new"
    notes = client.get(f"/api/v1/alert_groups/{gid}/notes", headers=me).json()
    assert [n["text"] for n in notes] == ["Please look at the payments pods"]
    with session_scope() as s:
        incident = s.get(Incident, ids.decode("alert_group", gid))
        assert incident is not None
        levels = incident.escalation_snapshot["levels"]
        assert [t["user_id"] for t in levels[0]["targets"]] == [w.responder_b]
        paged = s.scalar(
            select(IncidentEvent).where(
                IncidentEvent.incident_id == incident.id, IncidentEvent.kind == "paged"
            )
        )
        assert paged is not None and paged.actor_user_id == w.responder_a
    # A team page through a team-limited key pages its own team.
    r = client.post(
        "/api/v1/direct_paging",
        json={"title": "db", "team_id": ids.encode("team", w.team_a)},
        headers=team_key,
    )
    assert r.status_code == 200, r.text
