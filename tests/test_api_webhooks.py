"""Outgoing webhooks end to end: subscribe through the API, act on an incident, real workers POST a
signed body to a loopback receiver, retry after a 500, and the delivery log says so."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import ids
from app.db import session_scope
from app.webhooks.models import WebhookDelivery
from ingest.app import app
from tests.api_helpers import World, auth, incident, key, world
from tests.loopback.workers import wait_for, worker_stack


class Receiver:
    """Keeps every raw POST; answers 500 to the first `failures` of them, 200 after."""

    def __init__(self, failures: int = 1) -> None:
        self.posts: list[tuple[dict[str, str], bytes]] = []
        self.failures = failures
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.posts.append(({k.lower(): v for k, v in self.headers.items()}, raw))
                status = 500 if outer.failures > 0 else 200
                outer.failures -= 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def client(database_url: str, redis_env: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture()
def w(database_url: str) -> World:
    return world()


def test_signed_delivery_is_retried_after_a_500_and_logged(
    client: TestClient, w: World, database_url: str, redis_env: dict[str, str], output_dir: Path
) -> None:
    receiver = Receiver(failures=1)
    lead = auth(key(w.lead_a))
    sub = {
        "name": "chat-ops",
        "url": receiver.url,
        "events": ["acknowledged"],
        "team_id": ids.encode("team", w.team_a),
    }
    r = client.post("/api/v1/webhooks", json=sub, headers=lead)
    assert r.status_code == 201, r.text
    hook_id, secret = r.json()["id"], r.json()["secret"]
    assert client.get(f"/api/v1/webhooks/{hook_id}", headers=lead).json()["secret"] is None
    mine, theirs = incident(w.service_a), incident(w.service_b)
    for inc, who in ((mine, w.responder_a), (theirs, w.responder_b)):
        gid = ids.encode("alert_group", inc)
        assert (
            client.post(f"/api/v1/alert_groups/{gid}/acknowledge", headers=auth(key(who))).status_code == 200
        )
    try:
        with worker_stack(
            database_url=database_url,
            redis_url=redis_env["REDIS_URL"],
            namespace=redis_env["REDIS_NAMESPACE"] + "-wh",
            log_dir=output_dir / "webhooks-workers",
            queues=("webhooks",),
        ):
            wait_for(lambda: len(receiver.posts) >= 2, 60, "a retried webhook delivery")
            log = wait_for(
                lambda: (
                    (page := client.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=lead).json())[
                        "results"
                    ]
                    and page["results"][0]["status"] == "sent"
                    and page
                ),
                30,
                "the delivery log to say sent",
            )
    finally:
        receiver.close()
    # Only team A's incident was sent, to this team A subscription; twice (500, then 200).
    assert log["count"] == 1
    entry = log["results"][0]
    assert (
        entry["attempts"] == 2
        and entry["last_status_code"] == 200
        and entry["alert_group_id"] == ids.encode("alert_group", mine)
    )
    (h1, b1), (h2, b2) = receiver.posts[:2]
    assert h1["x-slar-delivery"] == h2["x-slar-delivery"] and b1 == b2
    expected = "sha256=" + hmac.new(secret.encode(), b2, hashlib.sha256).hexdigest()
    assert h2["x-slar-signature"] == expected
    body = json.loads(b2)
    assert body["event"]["type"] == "acknowledged" and body["event"]["actor"] == f"user:{w.responder_a}"
    assert body["incident"]["id"] == mine and body["incident"]["status"] == "acknowledged"
    assert body["incident"]["link"].endswith(f"incident?id={mine}")


def test_subscription_rules_and_errors(client: TestClient, w: World) -> None:
    sub = {
        "name": "x",
        "url": "http://127.0.0.1:9/x",
        "events": ["acknowledged"],
        "team_id": ids.encode("team", w.team_a),
    }
    # Only the team's lead (or an admin) subscribes to its incidents.
    assert client.post("/api/v1/webhooks", json=sub, headers=auth(key(w.responder_a))).status_code == 403
    r = client.post("/api/v1/webhooks", json={**sub, "url": "ftp://x"}, headers=auth(key(w.lead_a)))
    assert r.status_code == 400 and r.json()["error"]["field"] == "url"
    r = client.post("/api/v1/webhooks", json={**sub, "events": ["exploded"]}, headers=auth(key(w.lead_a)))
    assert r.status_code == 400 and r.json()["error"]["field"].startswith("events")
    made = client.post("/api/v1/webhooks", json=sub, headers=auth(key(w.lead_a))).json()
    r = client.put(f"/api/v1/webhooks/{made['id']}", json={"active": False}, headers=auth(key(w.lead_a)))
    assert r.status_code == 200 and r.json()["active"] is False
    # An inactive subscription gets nothing.
    gid = ids.encode("alert_group", incident(w.service_a))
    client.post(f"/api/v1/alert_groups/{gid}/acknowledge", headers=auth(key(w.responder_a)))
    with session_scope() as s:
        count = s.query(WebhookDelivery).filter_by(webhook_id=ids.decode("webhook", made["id"])).count()
    assert count == 0
    assert client.delete(f"/api/v1/webhooks/{made['id']}", headers=auth(key(w.lead_a))).status_code == 204
    assert client.get(f"/api/v1/webhooks/{made['id']}", headers=auth(key(w.lead_a))).status_code == 404


def test_a_failed_delivery_can_be_sent_again(client: TestClient, w: World) -> None:
    lead = auth(key(w.lead_a))
    sub = {
        "name": "y",
        "url": "http://127.0.0.1:9/y",
        "events": ["note"],
        "team_id": ids.encode("team", w.team_a),
    }
    hook = client.post("/api/v1/webhooks", json=sub, headers=lead).json()
    gid = ids.encode("alert_group", incident(w.service_a))
    client.post(f"/api/v1/alert_groups/{gid}/notes", json={"text": "hi"}, headers=auth(key(w.responder_a)))
    [entry] = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=lead).json()["results"]
    assert entry["status"] == "pending" and entry["event_type"] == "note"
    with session_scope() as s:
        row = s.get(WebhookDelivery, ids.decode("webhook_delivery", entry["id"]))
        row.status, row.attempts = "failed", 8
    path = f"/api/v1/webhooks/{hook['id']}/deliveries/{entry['id']}/redeliver"
    assert client.post(path, headers=auth(key(w.responder_a))).status_code == 403
    again = client.post(path, headers=lead)
    assert again.status_code == 200 and again.json()["status"] == "pending" and again.json()["attempts"] == 0
    assert (
        client.post(f"/api/v1/webhooks/{hook['id']}/deliveries/D0/redeliver", headers=lead).status_code == 404
    )
