"""/api/v1 through HTTP on real Postgres: keys, rights per role and team, envelope, alert group actions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from api import auth as api_auth
from api import ids
from api.ratelimit import Windows
from app.auth.apikeys import revoke_key
from app.config import reset_settings
from app.db import session_scope, utcnow
from app.directory.models import ApiKey, User
from app.incidents import service as incidents
from ingest.app import app
from tests.api_helpers import World, auth, incident, key, status_of, world


@pytest.fixture()
def client(database_url: str, redis_env: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture()
def w(database_url: str) -> World:
    return world()


def test_acknowledge_through_the_api_shows_the_user_in_the_timeline(client: TestClient, w: World) -> None:
    inc = incident(w.service_a)
    gid = ids.encode("alert_group", inc)
    r = client.post(f"/api/v1/alert_groups/{gid}/acknowledge", headers=auth(key(w.responder_a)))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "acknowledged" and body["acknowledged_by"] == ids.encode("user", w.responder_a)
    with session_scope() as s:
        acks = [e for e in incidents.timeline(session=s, incident_id=inc) if e.kind == "acknowledged"]
    assert (
        len(acks) == 1 and acks[0].actor_user_id == w.responder_a and acks[0].actor == f"user:{w.responder_a}"
    )
    # Acknowledging again is a no-op: still one event.
    again = client.post(f"/api/v1/alert_groups/{gid}/acknowledge", headers=auth(key(w.responder_a)))
    assert again.status_code == 200
    with session_scope() as s:
        assert [e.kind for e in incidents.timeline(session=s, incident_id=inc)].count("acknowledged") == 1


def test_bare_authorization_header_works_like_bearer(client: TestClient, w: World) -> None:
    raw = key(w.viewer, ())
    r = client.get("/api/v1/users/current", headers={"Authorization": raw})
    assert r.status_code == 200 and r.json()["id"] == ids.encode("user", w.viewer)
    assert r.headers["ratelimit-limit"] and int(r.headers["ratelimit-remaining"]) >= 0


def test_rights_follow_the_user_role_and_team_not_the_key(client: TestClient, w: World) -> None:
    inc = incident(w.service_a)
    gid = ids.encode("alert_group", inc)
    # A viewer's key with write scope is still a viewer's key: refused by the domain, nothing changes.
    r = client.post(f"/api/v1/alert_groups/{gid}/resolve", headers=auth(key(w.viewer)))
    assert r.status_code == 403 and r.json()["error"]["field"] == "by"
    # A responder of team B may not act on team A's incidents.
    r = client.post(f"/api/v1/alert_groups/{gid}/resolve", headers=auth(key(w.responder_b)))
    assert r.status_code == 403
    assert status_of(inc) == "triggered"
    # A key made by a responder who is later demoted loses the right at once.
    raw = key(w.responder_a)
    with session_scope() as s:
        s.get(User, w.responder_a).role = "viewer"
    r = client.post(f"/api/v1/alert_groups/{gid}/resolve", headers=auth(raw))
    assert r.status_code == 403 and status_of(inc) == "triggered"
    r = client.post(f"/api/v1/alert_groups/{gid}/resolve", headers=auth(key(w.admin)))
    assert r.status_code == 200 and status_of(inc) == "resolved"


def test_scopes_revocation_and_expiry(client: TestClient, w: World) -> None:
    inc = incident(w.service_a)
    gid = ids.encode("alert_group", inc)
    read_only = key(w.responder_a, ())
    r = client.post(f"/api/v1/alert_groups/{gid}/acknowledge", headers=auth(read_only))
    assert r.status_code == 403 and "incidents:write" in r.json()["error"]["errors"][0]
    assert client.get(f"/api/v1/alert_groups/{gid}", headers=auth(read_only)).status_code == 200
    raw = key(w.responder_a)
    with session_scope() as s:
        key_id = s.query(ApiKey).order_by(ApiKey.id.desc()).first().id
        revoke_key(session=s, by=w.responder_a, key_id=key_id)
    r = client.post(f"/api/v1/alert_groups/{gid}/acknowledge", headers=auth(raw))
    assert r.status_code == 401 and r.json()["error"]["errors"] == ["this API key was revoked"]
    soon = key(w.responder_a, expires_at=utcnow() + timedelta(seconds=1))
    with session_scope() as s:
        newest = s.query(ApiKey).filter(ApiKey.user_id == w.responder_a).order_by(ApiKey.id.desc()).first()
        newest.expires_at = utcnow() - timedelta(seconds=1)
    r = client.get("/api/v1/alert_groups", headers=auth(soon))
    assert r.status_code == 401 and "expired" in r.json()["error"]["errors"][0]
    assert client.get("/api/v1/alert_groups").status_code == 401
    assert client.get("/api/v1/alert_groups", headers=auth("slar_nope")).status_code == 401
    assert status_of(inc) == "triggered"


def test_last_use_is_recorded(client: TestClient, w: World) -> None:
    raw = key(w.viewer, ())
    client.get("/api/v1/users/current", headers={**auth(raw), "User-Agent": "terraform/1.9"})
    with session_scope() as s:
        k = s.query(ApiKey).filter(ApiKey.user_id == w.viewer).order_by(ApiKey.id.desc()).first()
        assert k.last_used_at is not None and k.last_used_agent == "terraform/1.9" and k.last_used_ip


def test_team_limited_key_sees_only_its_team(client: TestClient, w: World) -> None:
    mine, theirs = incident(w.service_a), incident(w.service_b)
    raw = key(w.admin, team_id=w.team_a)
    listed = client.get("/api/v1/alert_groups?perpage=100", headers=auth(raw)).json()["results"]
    listed_ids = {g["id"] for g in listed}
    assert (
        ids.encode("alert_group", mine) in listed_ids and ids.encode("alert_group", theirs) not in listed_ids
    )
    assert all(g["team_id"] == ids.encode("team", w.team_a) for g in listed)
    other = ids.encode("alert_group", theirs)
    assert client.get(f"/api/v1/alert_groups/{other}", headers=auth(raw)).status_code == 404
    r = client.post(f"/api/v1/alert_groups/{other}/resolve", headers=auth(raw))
    assert r.status_code == 404 and status_of(theirs) == "triggered"
    # A responder cannot limit a key to a team they are not in.
    with pytest.raises(Exception, match="not a member"):
        key(w.responder_a, team_id=w.team_b)


def test_paging_envelope_and_filters(client: TestClient, w: World) -> None:
    made = [incident(w.service_b, title=f"p{i}") for i in range(30)]
    raw = key(w.admin, team_id=w.team_b)
    first = client.get("/api/v1/alert_groups?perpage=25&state=new", headers=auth(raw)).json()
    assert first["count"] >= 30 and len(first["results"]) == 25 and first["previous"] is None
    assert first["next"] and "page=2" in first["next"]
    second = client.get(first["next"], headers=auth(raw)).json()
    assert second["previous"] and second["current_page_number"] == 2
    seen = {g["id"] for g in first["results"]} | {g["id"] for g in second["results"]}
    assert {ids.encode("alert_group", i) for i in made} <= seen
    # Newest first.
    assert first["results"][0]["created_at"] >= first["results"][-1]["created_at"]
    assert "+00:00" in first["results"][0]["created_at"] or first["results"][0]["created_at"].endswith("Z")
    resolved = client.get("/api/v1/alert_groups?state=resolved", headers=auth(raw)).json()
    assert all(g["state"] == "resolved" for g in resolved["results"])


def test_errors_use_the_pagerduty_envelope_and_name_the_field(client: TestClient, w: World) -> None:
    raw = key(w.admin)
    r = client.get("/api/v1/alert_groups?perpage=500", headers=auth(raw))
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == 2001 and err["field"] == "perpage" and err["errors"][0].startswith("perpage")
    r = client.get("/api/v1/alert_groups/XYZ", headers=auth(raw))
    assert r.status_code == 404 and r.json()["error"]["field"] == "alert_group_id"
    r = client.get(f"/api/v1/alert_groups/{ids.encode('alert_group', 2**31 + 5)}", headers=auth(raw))
    assert r.status_code == 404
    gid = ids.encode("alert_group", incident(w.service_a))
    r = client.post(f"/api/v1/alert_groups/{gid}/silence", json={"delay": -1}, headers=auth(raw))
    assert r.status_code == 400 and r.json()["error"]["field"] == "delay"
    r = client.post(f"/api/v1/alert_groups/{gid}/notes", json={"text": ""}, headers=auth(raw))
    assert r.status_code == 400 and r.json()["error"]["field"] == "text"
    assert status_of(ids.decode("alert_group", gid)) == "triggered"


def test_lifecycle_unack_resolve_unresolve_silence_notes_alerts(client: TestClient, w: World) -> None:
    inc = incident(w.service_a)
    gid = ids.encode("alert_group", inc)
    h = auth(key(w.responder_a))
    path = f"/api/v1/alert_groups/{gid}"
    assert client.post(f"{path}/acknowledge", headers=h).json()["state"] == "acknowledged"
    assert client.post(f"{path}/unacknowledge", headers=h).json()["state"] == "new"
    silenced = client.post(f"{path}/silence", json={"delay": 600}, headers=h).json()
    assert silenced["state"] == "silenced" and silenced["silenced_until"]
    note = client.post(f"{path}/notes", json={"text": "rolled back the deploy"}, headers=h)
    assert note.status_code == 201 and note.json()["author"] == ids.encode("user", w.responder_a)
    notes = client.get(f"{path}/notes", headers=h).json()
    assert [n["text"] for n in notes] == ["rolled back the deploy"]
    assert client.post(f"{path}/resolve", headers=h).json()["state"] == "resolved"
    reopened = client.post(f"{path}/unresolve", headers=h).json()
    assert reopened["state"] == "new" and reopened["resolved_at"] is None
    alerts = client.get(f"{path}/alerts", headers=h).json()
    assert alerts["count"] == 1 and alerts["results"][0]["alert_group_id"] == gid
    with session_scope() as s:
        kinds = [e.kind for e in incidents.timeline(session=s, incident_id=inc)]
    for kind in ("acknowledged", "unacknowledged", "snoozed", "note", "resolved", "reopened"):
        assert kind in kinds


def test_over_the_rate_a_key_gets_429_with_retry_after(client: TestClient, w: World, monkeypatch) -> None:
    monkeypatch.setenv("SLAR_API_RATE_PER_MINUTE", "3")
    reset_settings()
    monkeypatch.setattr(api_auth, "windows", Windows())
    raw = key(w.viewer, ())
    try:
        answers = [client.get("/api/v1/users/current", headers=auth(raw)) for _ in range(4)]
    finally:
        monkeypatch.delenv("SLAR_API_RATE_PER_MINUTE")
        reset_settings()
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[2].headers["ratelimit-remaining"] == "0"
    assert int(answers[3].headers["Retry-After"]) >= 1 and answers[3].json()["error"]["code"] == 2020
