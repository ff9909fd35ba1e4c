"""/api/v1 configuration resources through HTTP on real Postgres: each verb, rights by role and team."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from api import ids
from app.db import session_scope
from app.directory import service as directory
from app.escalation.service import LevelSpec, TargetSpec, create_policy, snapshot_policy
from app.notifications.rules_service import rules_of
from ingest.app import app
from tests.api_helpers import World, auth, key, world


@pytest.fixture()
def client(database_url: str, redis_env: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture()
def w(database_url: str) -> World:
    return world()


def test_integrations_create_shows_link_once_and_rights(client: TestClient, w: World) -> None:
    body = {"name": "prod PD", "type": "pagerduty", "service_id": w.service_a}
    # A responder who is not the team's lead may not change its configuration.
    r = client.post("/api/v1/integrations", json=body, headers=auth(key(w.responder_a)))
    assert r.status_code == 403
    r = client.post("/api/v1/integrations", json=body, headers=auth(key(w.lead_a)))
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["link"].endswith("/v2/enqueue") and made["token"].startswith("whk_")
    got = client.get(f"/api/v1/integrations/{made['id']}", headers=auth(key(w.viewer, ()))).json()
    assert got["token"] is None and got["link"] is None and got["token_prefix"] == made["token_prefix"]
    # The token works at the front door.
    event = {"routing_key": made["token"], "event_action": "trigger", "dedup_key": "x"}
    event["payload"] = {"summary": "s", "source": "t", "severity": "info"}
    assert client.post("/v2/enqueue", json=event).status_code == 202
    r = client.put(
        f"/api/v1/integrations/{made['id']}",
        json={"flap_window_seconds": 0, "auto_resolve": False},
        headers=auth(key(w.lead_a)),
    )
    assert r.status_code == 200 and r.json()["auto_resolve"] is False
    r = client.post("/api/v1/integrations", json={**body, "type": "zabbix"}, headers=auth(key(w.lead_a)))
    assert r.status_code == 400 and r.json()["error"]["field"] == "type"
    assert client.delete(f"/api/v1/integrations/{made['id']}", headers=auth(key(w.lead_a))).status_code == 204
    assert client.post("/v2/enqueue", json=event).status_code == 400  # revoked
    listed = client.get(f"/api/v1/integrations?service_id={w.service_a}", headers=auth(key(w.admin))).json()
    assert made["id"] in {i["id"] for i in listed["results"]}


def test_routes_insert_and_delete(client: TestClient, w: World) -> None:
    integ = ids.encode("integration", w.integration_a)
    h = auth(key(w.lead_a))
    rule = {"integration_id": integ, "matchers": [{"field": "labels.team", "op": "equals", "value": "db"}]}
    r = client.post("/api/v1/routes", json={**rule, "target_service_id": w.service_b}, headers=h)
    assert r.status_code == 201, r.text
    r = client.post(
        "/api/v1/routes", json={**rule, "position": 0, "target_service_id": w.service_a}, headers=h
    )
    assert r.status_code == 201 and r.json()["position"] == 0
    routes = client.get(f"/api/v1/routes?integration_id={integ}", headers=h).json()["results"]
    assert [x["target_service_id"] for x in routes] == [w.service_a, w.service_b]
    bad = {**rule, "matchers": [{"field": "labels.team", "op": "like", "value": "x"}], "target_service_id": 1}
    r = client.post("/api/v1/routes", json=bad, headers=h)
    assert r.status_code in (400, 422) and "matchers" in (r.json()["error"]["field"] or "")
    assert client.delete(f"/api/v1/routes/{routes[0]['id']}", headers=h).status_code == 204
    left = client.get(f"/api/v1/routes?integration_id={integ}", headers=h).json()["results"]
    assert [x["target_service_id"] for x in left] == [w.service_b]


def test_escalation_chains_and_steps(client: TestClient, w: World) -> None:
    h = auth(key(w.lead_a))
    team = ids.encode("team", w.team_a)
    chain = client.post("/api/v1/escalation_chains", json={"name": "db on-call", "team_id": team}, headers=h)
    assert chain.status_code == 201, chain.text
    cid = chain.json()["id"]
    person = ids.encode("user", w.responder_a)
    steps = [
        {"type": "notify_persons", "persons_to_notify": [person]},
        {"type": "wait", "duration": 300},
        {"type": "notify_team_members", "notify_to_team_members": team},
    ]
    for step in steps:
        r = client.post("/api/v1/escalation_policies", json={"escalation_chain_id": cid, **step}, headers=h)
        assert r.status_code == 201, r.text
    listed = client.get(f"/api/v1/escalation_policies?escalation_chain_id={cid}", headers=h).json()["results"]
    assert [(s["position"], s["type"]) for s in listed] == [
        (0, "notify_persons"),
        (1, "wait"),
        (2, "notify_team_members"),
    ]
    assert listed[1]["duration"] == 300 and listed[0]["persons_to_notify"] == [person]
    with session_scope() as s:
        plan = snapshot_policy(session=s, policy_id=ids.decode("escalation_chain", cid))
    assert [lv["delay_minutes"] for lv in plan["levels"]] == [5, 0]
    assert plan["levels"][0]["targets"][0]["user_id"] == w.responder_a
    r = client.put(
        f"/api/v1/escalation_policies/{listed[1]['id']}", json={"type": "wait", "duration": 600}, headers=h
    )
    assert r.status_code == 200 and r.json()["duration"] == 600
    r = client.put(
        f"/api/v1/escalation_policies/{listed[1]['id']}", json={"type": "wait", "duration": 61}, headers=h
    )
    assert r.status_code == 400 and r.json()["error"]["field"] == "duration"
    r = client.post(
        "/api/v1/escalation_policies",
        json={"escalation_chain_id": cid, "type": "notify_persons", "persons_to_notify": ["U9ZZZZ"]},
        headers=h,
    )
    assert r.status_code == 400 and r.json()["error"]["field"] == "persons_to_notify"
    assert client.delete(f"/api/v1/escalation_policies/{listed[2]['id']}", headers=h).status_code == 204
    after = client.get(f"/api/v1/escalation_policies?escalation_chain_id={cid}", headers=h).json()["results"]
    assert [s["type"] for s in after] == ["notify_persons", "wait"]
    # Team B's responder may not touch team A's chain; a team-B-limited key does not even see it.
    r = client.post(
        "/api/v1/escalation_policies",
        json={"escalation_chain_id": cid, "type": "wait", "duration": 60},
        headers=auth(key(w.responder_b)),
    )
    assert r.status_code == 403
    assert (
        client.get(
            f"/api/v1/escalation_chains/{cid}", headers=auth(key(w.admin, team_id=w.team_b))
        ).status_code
        == 404
    )


def test_schedules_shifts_overrides_final_shifts_and_oncalls(client: TestClient, w: World) -> None:
    lead = auth(key(w.lead_a))
    team = ids.encode("team", w.team_a)
    r = client.post(
        "/api/v1/schedules",
        json={"name": "db primary", "time_zone": "Europe/Paris", "team_id": team},
        headers=lead,
    )
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    layer = {
        "schedule_id": sid,
        "frequency": "weekly",
        "start": "2026-01-05T09:00:00",
        "users": [ids.encode("user", w.responder_a), ids.encode("user", w.lead_a)],
    }
    r = client.post("/api/v1/on_call_shifts", json=layer, headers=lead)
    assert r.status_code == 201, r.text
    shift_id = r.json()["id"]
    r = client.post(
        "/api/v1/on_call_shifts", json={**layer, "start": "2026-01-05T09:00:00+01:00"}, headers=lead
    )
    assert r.status_code == 400 and r.json()["error"]["field"] == "start"
    sched = client.get(f"/api/v1/schedules/{sid}", headers=lead).json()
    assert len(sched["on_call_now"]) == 1 and sched["shifts"] == [shift_id]
    window = "start_date=2026-02-02T00:00:00Z&end_date=2026-02-16T00:00:00Z"
    final = client.get(f"/api/v1/schedules/{sid}/final_shifts?{window}", headers=lead).json()["results"]
    assert len(final) >= 2 and {f["user_pk"] for f in final} == set(layer["users"])
    r = client.get(f"/api/v1/schedules/{sid}/final_shifts?start_date=2026-02-02T00:00:00", headers=lead)
    assert r.status_code == 400
    # A responder may put only themselves on an override.
    me = auth(key(w.responder_a))
    start = datetime(2026, 2, 3, 12, tzinfo=UTC)
    over = {"schedule_id": sid, "start": start.isoformat(), "end": (start + timedelta(hours=4)).isoformat()}
    r = client.post("/api/v1/overrides", json={**over, "user_id": ids.encode("user", w.lead_a)}, headers=me)
    assert r.status_code == 403
    r = client.post(
        "/api/v1/overrides", json={**over, "user_id": ids.encode("user", w.responder_a)}, headers=me
    )
    assert r.status_code == 201, r.text
    oid = r.json()["id"]
    listed = client.get(f"/api/v1/overrides?schedule_id={sid}", headers=me).json()
    assert [o["id"] for o in listed["results"]] == [oid]
    # The chain points at the schedule: /oncalls names who is on call at which level.
    with session_scope() as s:
        policy = create_policy(
            session=s,
            name="via schedule",
            team_id=w.team_a,
            levels=[LevelSpec(5, [TargetSpec(kind="schedule", schedule_id=ids.decode("schedule", sid))])],
        )
        chain = ids.encode("escalation_chain", policy.id)
    at = "since=2026-02-03T13:00:00Z&until=2026-02-03T14:00:00Z"
    oncalls = client.get(f"/api/v1/oncalls?{at}&schedule_ids={sid}", headers=me).json()["results"]
    assert oncalls and {o["user_id"] for o in oncalls} == {ids.encode("user", w.responder_a)}
    assert all(o["escalation_chain_id"] == chain and o["escalation_level"] == 1 for o in oncalls)
    brackets = client.get(f"/api/v1/oncalls?{at}&schedule_ids[]={sid}", headers=me).json()["results"]
    assert brackets == oncalls
    nobody = client.get(f"/api/v1/oncalls?{at}&user_ids[]={ids.encode('user', w.lead_a)}", headers=me).json()
    assert nobody["count"] == 0
    assert client.delete(f"/api/v1/overrides/{oid}", headers=me).status_code == 204
    r = client.put(f"/api/v1/on_call_shifts/{shift_id}", json={"priority_level": 3}, headers=lead)
    assert r.status_code == 200 and r.json()["priority_level"] == 3
    assert client.put(f"/api/v1/on_call_shifts/{shift_id}", json={"name": "x"}, headers=me).status_code == 403
    assert client.delete(f"/api/v1/on_call_shifts/{shift_id}", headers=lead).status_code == 204
    assert client.get(f"/api/v1/on_call_shifts/{shift_id}", headers=lead).status_code == 404
    # Monthly rotations hand off on day 1 to 28 of each month; a later day is refused by name.
    monthly = {**layer, "frequency": "monthly"}
    r = client.post("/api/v1/on_call_shifts", json={**monthly, "start": "2026-01-30T09:00:00"}, headers=lead)
    assert r.status_code == 400 and r.json()["error"]["field"] == "start", r.text
    r = client.post("/api/v1/on_call_shifts", json=monthly, headers=lead)
    assert r.status_code == 201 and r.json()["frequency"] == "monthly", r.text


def test_users_teams_and_notification_rules(client: TestClient, w: World) -> None:
    admin, me = auth(key(w.admin)), auth(key(w.responder_a))
    r = client.post("/api/v1/users", json={"email": "new@example.test", "name": "New"}, headers=me)
    assert r.status_code == 403
    r = client.post("/api/v1/users", json={"email": "new@example.test", "name": "New"}, headers=admin)
    assert r.status_code == 201 and r.json()["role"] == "responder"
    r = client.post("/api/v1/users", json={"email": "new@example.test", "name": "Again"}, headers=admin)
    assert r.status_code == 409 and r.json()["error"]["field"] == "email"
    found = client.get("/api/v1/users?email=NEW@example.test", headers=me).json()
    assert found["count"] == 1 and found["results"][0]["email"] == "new@example.test"
    team = client.get(f"/api/v1/teams/{ids.encode('team', w.team_a)}", headers=me).json()
    assert {m["user_id"] for m in team["members"]} >= {ids.encode("user", w.lead_a)}
    assert client.post("/api/v1/teams", json={"name": "Platform"}, headers=admin).status_code == 201
    with session_scope() as s:
        method = directory.add_contact_method(
            session=s, user_id=w.responder_a, kind="email", address="a@x.test"
        )
        method_id = method.id
    rules_url = "/api/v1/personal_notification_rules"
    r = client.post(rules_url, json={"type": "notify_by_email"}, headers=me)
    assert r.status_code == 201, r.text
    notify = r.json()
    assert (notify["type"], notify["position"], notify["contact_method_id"]) == (
        "notify_by_email",
        0,
        method_id,
    )
    r = client.post(rules_url, json={"type": "wait", "duration": 300, "position": 0}, headers=me)
    assert r.status_code == 201 and r.json()["position"] == 0
    wait_id = r.json()["id"]
    rule_id = notify["id"]
    other = {"user_id": ids.encode("user", w.responder_a), "type": "wait", "duration": 60}
    assert client.post(rules_url, json=other, headers=auth(key(w.lead_a))).status_code == 403
    assert client.post(rules_url, json=other, headers=admin).status_code == 201
    r = client.post(rules_url, json={"type": "notify_by_sms"}, headers=me)
    assert r.status_code == 400 and r.json()["error"]["field"] == "type"
    r = client.post(rules_url, json={"type": "wait", "duration": 90}, headers=me)
    assert r.status_code == 400 and r.json()["error"]["field"] == "duration"
    rules = client.get(rules_url, headers=me).json()["results"]
    assert [(x["type"], x["duration"], x["position"]) for x in rules] == [
        ("wait", 300, 0),
        ("notify_by_email", None, 1),
        ("wait", 60, 2),
    ]
    with session_scope() as s:
        steps = rules_of(session=s, user_id=w.responder_a)["default"]
    assert [(x.step, x.minutes, x.contact_method_id) for x in steps] == [
        ("wait", 5, None),
        ("notify", 0, method_id),
        ("wait", 1, None),
    ]
    r = client.put(f"{rules_url}/{rule_id}", json={"important": True}, headers=me)
    assert r.status_code == 200 and r.json()["important"] is True and r.json()["position"] == 0
    assert r.json()["id"] == rule_id
    assert client.get(f"{rules_url}?important=true", headers=me).json()["count"] == 1
    left = client.get(f"{rules_url}?important=false", headers=me).json()["results"]
    assert [x["position"] for x in left] == [0, 1]
    r = client.put(f"{rules_url}/{wait_id}", json={"duration": 600}, headers=auth(key(w.lead_a)))
    assert r.status_code == 403
    assert client.get(f"{rules_url}/{wait_id}", headers=me).json()["duration"] == 300
    r = client.put(f"{rules_url}/{wait_id}", json={"type": "notify_by_sms"}, headers=me)
    assert r.status_code == 400 and r.json()["error"]["field"] == "type"
    assert client.get(f"{rules_url}/{wait_id}", headers=me).json()["type"] == "wait"
    r = client.put(f"{rules_url}/{wait_id}", json={"position": 5, "duration": 120}, headers=me)
    assert (r.json()["position"], r.json()["duration"], r.json()["id"]) == (1, 120, wait_id)
    moved = client.get(f"{rules_url}?important=false", headers=me).json()["results"]
    assert [(x["position"], x["duration"]) for x in moved] == [(0, 60), (1, 120)]
    assert client.delete(f"{rules_url}/{rule_id}", headers=auth(key(w.lead_a))).status_code == 403
    assert client.delete(f"{rules_url}/{rule_id}", headers=me).status_code == 204
    assert client.get(f"{rules_url}?important=true", headers=me).json()["count"] == 0


def test_chain_update_delete_route_update_and_single_gets(client: TestClient, w: World) -> None:
    lead = auth(key(w.lead_a))
    team = ids.encode("team", w.team_a)
    cid = client.post("/api/v1/escalation_chains", json={"name": "c1", "team_id": team}, headers=lead).json()[
        "id"
    ]
    client.post("/api/v1/escalation_chains", json={"name": "c2", "team_id": team}, headers=lead)
    r = client.put(f"/api/v1/escalation_chains/{cid}", json={"name": "c2"}, headers=lead)
    assert r.status_code == 409 and r.json()["error"]["field"] == "name"
    r = client.put(f"/api/v1/escalation_chains/{cid}", json={"name": "db", "repeat_count": 2}, headers=lead)
    assert r.status_code == 200 and r.json()["name"] == "db" and r.json()["repeat_count"] == 2
    assert (
        client.delete(f"/api/v1/escalation_chains/{cid}", headers=auth(key(w.responder_a))).status_code == 403
    )
    assert client.delete(f"/api/v1/escalation_chains/{cid}", headers=lead).status_code == 204
    assert client.get(f"/api/v1/escalation_chains/{cid}", headers=lead).status_code == 404
    integ = ids.encode("integration", w.integration_a)
    rule = {
        "integration_id": integ,
        "matchers": [{"field": "labels.a", "op": "exists"}],
        "target_service_id": w.service_a,
    }
    first = client.post("/api/v1/routes", json=rule, headers=lead).json()
    client.post("/api/v1/routes", json=rule, headers=lead)
    r = client.put(
        f"/api/v1/routes/{first['id']}",
        json={
            "matchers": [{"field": "labels.b", "op": "equals", "value": "x"}],
            "target_service_id": w.service_b,
        },
        headers=lead,
    )
    assert r.status_code == 200 and r.json()["position"] == 0 and r.json()["target_service_id"] == w.service_b
    listed = client.get(f"/api/v1/routes?integration_id={integ}", headers=lead).json()["results"]
    assert [x["target_service_id"] for x in listed] == [w.service_b, w.service_a]
    assert client.get("/api/v1/overrides/V0", headers=lead).status_code == 404
    assert client.get("/api/v1/personal_notification_rules/N0", headers=lead).status_code == 404


def test_user_updates_and_team_members(client: TestClient, w: World) -> None:
    me, admin, lead = auth(key(w.responder_a)), auth(key(w.admin)), auth(key(w.lead_a))
    uid = ids.encode("user", w.responder_a)
    r = client.put(f"/api/v1/users/{uid}", json={"name": "Renamed", "timezone": "Asia/Tokyo"}, headers=me)
    assert r.status_code == 200 and r.json()["name"] == "Renamed" and r.json()["timezone"] == "Asia/Tokyo"
    assert client.put(f"/api/v1/users/{uid}", json={"role": "admin"}, headers=me).status_code == 403
    r = client.put(f"/api/v1/users/{uid}", json={"timezone": "Mars/Base"}, headers=me)
    assert r.status_code == 400 and r.json()["error"]["field"] == "time_zone"
    other = ids.encode("user", w.lead_a)
    assert client.put(f"/api/v1/users/{other}", json={"name": "x"}, headers=me).status_code == 403
    assert (
        client.put(f"/api/v1/users/{uid}", json={"role": "viewer"}, headers=admin).json()["role"] == "viewer"
    )
    team, newcomer = ids.encode("team", w.team_a), ids.encode("user", w.responder_b)
    path = f"/api/v1/teams/{team}/members/{newcomer}"
    assert client.put(path, json={"role": "responder"}, headers=auth(key(w.responder_b))).status_code == 403
    r = client.put(path, json={"role": "responder"}, headers=lead)
    assert r.status_code == 200 and {"user_id": newcomer, "role": "responder"} in r.json()["members"]
    r = client.delete(path, headers=lead)
    assert r.status_code == 200 and newcomer not in {m["user_id"] for m in r.json()["members"]}
