"""A Slack click through the real ingest app acknowledges once and redraws the page via the workers."""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from app.incidents import service as incidents
from app.incidents.models import Incident
from tests import factories as f
from tests.infra import ROOT, wait_http
from tests.loopback.slack import SlackServer
from tests.loopback.workers import sessions, wait_for, worker_stack
from tests.test_slack_interactivity import SECRET, _click
from tests.test_workers_escalation import _slack_user, _trigger

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_double_click_on_a_real_page_acks_once_and_updates_the_message(
    fresh_database: str, redis_env: dict[str, str], output_dir: Path
) -> None:
    Session = sessions(fresh_database)
    with Session.begin() as s:
        responder = f.user(
            s, role="admin", name="Clicker", slack_user_id=f"UCLICK{uuid.uuid4().hex[:6].upper()}"
        )
        paged = _slack_user(s, "Paged")
        policy = f.policy_for(s, [paged, responder], delay_minutes=30)
        incident_id, token = _trigger(s, policy)
        slack_id = responder.slack_user_id
    namespace = f"{redis_env['REDIS_NAMESPACE']}-{uuid.uuid4().hex[:6]}"
    port = _free_port()
    with SlackServer() as slack:
        extra = {
            "SLACK_API_URL": slack.api_url,
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLAR_ESCALATION_MINUTE_S": "1",
        }
        # A slow sweeper: the redraw must come from the click itself, not from the next sweep.
        with worker_stack(
            database_url=fresh_database,
            redis_url=redis_env["REDIS_URL"],
            namespace=namespace,
            log_dir=output_dir / "workers" / namespace,
            extra_env=extra,
            sweep_s=600,
        ) as stack:
            args = [
                sys.executable,
                "-m",
                "uvicorn",
                "ingest.app:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ]
            with open(stack.log_dir / "ingest.log", "ab") as log:
                ingest = subprocess.Popen(args, env=stack.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
            try:
                wait_http(f"http://127.0.0.1:{port}/health")
                stack.kick(incident_id, token)
                wait_for(lambda: slack.posts(), 60, "the page")
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                    first = _click(client, "acknowledge", incident_id, slack_id)
                    second = _click(client, "acknowledge", incident_id, slack_id)
                    forged = _click(client, "resolve", incident_id, slack_id, secret="forged")
                assert (first.status_code, second.status_code, forged.status_code) == (200, 200, 401)
                update = wait_for(lambda: slack.updates(), 60, "chat.update after the click")[0]
            finally:
                ingest.terminate()
                ingest.wait(timeout=10)
    assert update.body["channel"] == f"D{paged.id}"
    assert not [b for b in update.body["blocks"] if b["type"] == "actions"]
    with Session() as s:
        assert s.get(Incident, incident_id).status == "acknowledged"
        kinds = [e.kind for e in incidents.timeline(session=s, incident_id=incident_id)]
    assert kinds.count("acknowledged") == 1 and "resolved" not in kinds
