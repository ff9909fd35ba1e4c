"""From the outside: a silence made through /api/v1 stops an open incident's next page, and expiring
it through the API pages again (uvicorn ingest, real workers and scheduler, loopback Slack)."""

from __future__ import annotations

import time

import httpx
import pytest

from api import ids
from app.auth.apikeys import create_key
from tests.loopback.workers import sessions, wait_for
from tests.test_suppression_flow import (  # noqa: F401
    MINUTE_S,
    NEXT_LEVEL_DELAY,
    PAYLOAD,
    Flow,
    _incident,
    _setup,
    flow,
)

pytestmark = pytest.mark.slow


def test_a_silence_created_through_the_api_stops_the_next_page(fresh_database: str, flow: Flow) -> None:  # noqa: F811
    Session = sessions(fresh_database)
    service_id, token, (first, second) = _setup(Session, 2, delay=NEXT_LEVEL_DELAY)
    with Session.begin() as s:
        user_id = int(first.removeprefix("U"))  # _setup gives each user the Slack address U<id>
        _, raw = create_key(session=s, by=user_id, name="chat-ops", scopes=["incidents:write"])
    h = {"Authorization": f"Bearer {raw}"}
    r = httpx.post(f"{flow.ingest}/webhooks/alertmanager/{token}", content=PAYLOAD.read_bytes(), timeout=10)
    assert r.status_code == 202, r.text
    wait_for(lambda: flow.pages(), 60, "the first page")
    body = {
        "matchers": [{"name": "alertname", "op": "=", "value": "HighLatency"}],
        "duration": 3600,
        "comment": "rolling back",
    }
    r = httpx.post(f"{flow.ingest}/api/v1/silences", json=body, headers=h, timeout=10)
    assert r.status_code == 201, r.text
    silence_id = r.json()["id"]
    time.sleep(NEXT_LEVEL_DELAY * MINUTE_S + 2.5)  # past the moment the second level was due
    assert flow.pages() == [first]
    incident = _incident(Session, service_id)
    assert incident is not None and incident.suppressed_by == f"silence:{ids.decode('silence', silence_id)}"
    r = httpx.delete(f"{flow.ingest}/api/v1/silences/{silence_id}", headers=h, timeout=10)
    assert r.status_code == 204
    wait_for(lambda: len(flow.pages()) >= 2, 60, "the page after the silence expired")
    assert flow.pages()[:2] == [first, first]
