"""/api/v1/on_call_shifts edits from an instant: effective_from on PUT and DELETE, past refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from api import ids
from app.db import session_scope
from app.schedules import versions
from ingest.app import app
from tests.api_helpers import World, auth, key, world


@pytest.fixture()
def client(database_url: str, redis_env: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture()
def w(database_url: str) -> World:
    return world()


def _on_call(client: TestClient, sid: str, at: datetime, h: dict[str, str]) -> set[str]:
    window = {"start_date": at.isoformat(), "end_date": (at + timedelta(hours=1)).isoformat()}
    final = client.get(f"/api/v1/schedules/{sid}/final_shifts", params=window, headers=h)
    assert final.status_code == 200, final.text
    return {f["user_pk"] for f in final.json()["results"]}


def test_shift_changes_and_removal_take_effect_from_an_instant(client: TestClient, w: World) -> None:
    lead = auth(key(w.lead_a))
    team = ids.encode("team", w.team_a)
    sid = client.post(
        "/api/v1/schedules", json={"name": "db", "time_zone": "UTC", "team_id": team}, headers=lead
    ).json()["id"]
    a, b = ids.encode("user", w.responder_a), ids.encode("user", w.lead_a)
    layer = {"schedule_id": sid, "frequency": "daily", "start": "2026-01-05T09:00:00", "users": [a]}
    shift = client.post("/api/v1/on_call_shifts", json=layer, headers=lead).json()
    url = f"/api/v1/on_call_shifts/{shift['id']}"
    now = datetime.now(UTC)
    later = (now + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)

    def versions_count() -> int:
        with session_scope() as s:
            return len(versions.versions_of(s, ids.decode("on_call_shift", shift["id"])))

    # Refused instants name the field and change nothing.
    past = (now - timedelta(days=2)).isoformat()
    r = client.put(url, json={"users": [b], "effective_from": past}, headers=lead)
    assert r.status_code == 400 and r.json()["error"]["field"] == "effective_from"
    r = client.put(url, json={"users": [b], "effective_from": "2030-01-01T00:00:00"}, headers=lead)
    assert r.status_code == 400 and r.json()["error"]["field"] == "effective_from"
    r = client.delete(url, params={"effective_from": past}, headers=lead)
    assert r.status_code == 400 and r.json()["error"]["field"] == "effective_from"
    assert versions_count() == 1 and client.get(url, headers=lead).json()["users"] == [a]

    # A change from `later`: the id stays, today keeps the old member, `later` on has the new one.
    r = client.put(url, json={"users": [b], "effective_from": later.isoformat()}, headers=lead)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == shift["id"] and r.json()["users"] == [b]
    assert client.get(url, headers=lead).json()["users"] == [a]
    assert versions_count() == 2
    assert _on_call(client, sid, now + timedelta(minutes=5), lead) == {a}
    assert _on_call(client, sid, later + timedelta(hours=2), lead) == {b}

    # Removed from a day after that: still there until then, nobody after.
    end = later + timedelta(days=1)
    assert client.delete(url, params={"effective_from": end.isoformat()}, headers=lead).status_code == 204
    assert client.get(url, headers=lead).status_code == 200
    assert _on_call(client, sid, later + timedelta(hours=2), lead) == {b}
    assert _on_call(client, sid, end + timedelta(hours=2), lead) == set()
