"""Slack buttons at /slack/events: signature checks, user mapping, idempotent actions."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from slack_sdk.signature import SignatureVerifier

from app.config import reset_settings
from app.db import session_scope
from app.incidents import service as incidents
from app.incidents.models import Incident
from tests import factories as f

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture()
def client(database_url: str, redis_env: dict[str, str]) -> Iterator[TestClient]:
    os.environ["SLACK_SIGNING_SECRET"] = SECRET
    reset_settings()
    from ingest import slack

    api = FastAPI()
    api.include_router(slack.router)
    with TestClient(api) as c:
        yield c
    del os.environ["SLACK_SIGNING_SECRET"]
    reset_settings()


@pytest.fixture()
def paged() -> tuple[int, str]:
    """A committed, triggered incident on a two-level policy, and the Slack id of an admin who may act."""
    slack_id = f"U{f.n()}X{time.time_ns() % 100000}"
    with session_scope() as s:
        admin = f.user(s, role="admin", slack_user_id=slack_id)
        other = f.user(s)
        svc = f.service(s, policy_id=f.policy_for(s, [admin, other]))
        inc = incidents.trigger_or_group(
            session=s, service_id=svc.id, dedup_key="k", alert=f.alert()
        ).incident
        return inc.id, slack_id


def _click(
    client: TestClient, action: str, incident_id: int, slack_id: str, *, secret: str = SECRET, age_s: int = 0
):
    payload = {
        "type": "block_actions",
        "user": {"id": slack_id},
        "team": {"id": "T1"},
        "actions": [
            {
                "action_id": action,
                "block_id": f"incident:{incident_id}",
                "value": str(incident_id),
                "type": "button",
            }
        ],
    }
    body = urlencode({"payload": json.dumps(payload)})
    ts = str(int(time.time()) - age_s)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
    }
    return client.post("/slack/events", content=body, headers=headers)


def _state(incident_id: int) -> tuple[str, int, list[str]]:
    with session_scope() as s:
        inc = s.get(Incident, incident_id)
        kinds = [e.kind for e in incidents.timeline(session=s, incident_id=incident_id)]
        return inc.status, inc.current_level, kinds


def test_bad_signature_is_401_and_changes_nothing(client: TestClient, paged: tuple[int, str]) -> None:
    incident_id, slack_id = paged
    before = _state(incident_id)
    assert _click(client, "acknowledge", incident_id, slack_id, secret="not-the-secret").status_code == 401
    assert _click(client, "acknowledge", incident_id, slack_id, age_s=6 * 60).status_code == 401
    assert client.post("/slack/events", content=b"payload={}").status_code == 401
    assert _state(incident_id) == before


def test_double_click_acknowledges_once(client: TestClient, paged: tuple[int, str]) -> None:
    incident_id, slack_id = paged
    assert _click(client, "acknowledge", incident_id, slack_id).status_code == 200
    assert _click(client, "acknowledge", incident_id, slack_id).status_code == 200
    status, _, kinds = _state(incident_id)
    assert status == "acknowledged" and kinds.count("acknowledged") == 1
    with session_scope() as s:
        (ack,) = [
            e for e in incidents.timeline(session=s, incident_id=incident_id) if e.kind == "acknowledged"
        ]
        assert ack.actor == f"slack:{slack_id}" and ack.actor_user_id is not None


def test_resolve_and_escalate_buttons(client: TestClient, paged: tuple[int, str]) -> None:
    incident_id, slack_id = paged
    assert _click(client, "escalate", incident_id, slack_id).status_code == 200
    assert _state(incident_id)[:2] == ("triggered", 1)
    assert _click(client, "resolve", incident_id, slack_id).status_code == 200
    assert _state(incident_id)[0] == "resolved"


def test_unlinked_slack_user_changes_nothing(client: TestClient, paged: tuple[int, str]) -> None:
    incident_id, _ = paged
    before = _state(incident_id)
    assert _click(client, "acknowledge", incident_id, "UNOBODY").status_code == 200
    assert _state(incident_id) == before


def test_unconfigured_slack_is_503(database_url: str) -> None:
    os.environ.pop("SLACK_SIGNING_SECRET", None)
    reset_settings()
    from ingest import slack

    api = FastAPI()
    api.include_router(slack.router)
    response = TestClient(api).post("/slack/events", content=b"payload={}")
    assert response.status_code == 503 and response.json()["field"] == "SLACK_SIGNING_SECRET"
