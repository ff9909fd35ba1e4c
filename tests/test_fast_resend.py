"""A page cut off by a dead worker is re-sent in seconds, and still reaches Slack once.

The escalation minute is set to 10 real minutes, so the time-based reclaim (one escalation minute)
cannot be what re-sends the page during the test: only the dead worker's freed lease can.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.notifications.models import Delivery
from app.notifications.service import RECLAIMED
from tests import factories as f
from tests.loopback._http import Call
from tests.loopback.slack import SlackServer
from tests.loopback.workers import sessions, wait_for, worker_stack
from tests.test_workers_escalation import _slack_user, _trigger


class AcceptThenHang(SlackServer):
    """Slack that accepts the first post, then holds its answer: the worker dies before hearing it."""

    def __init__(self) -> None:
        super().__init__()
        self.accepted = threading.Event()
        self.hang_first = True

    def handle(self, call: Call) -> tuple[int, dict[str, Any]]:
        answer = super().handle(call)
        if call.path.endswith("chat.postMessage") and self.hang_first:
            self.hang_first = False
            self.accepted.set()
            time.sleep(30)
        return answer


def test_a_send_cut_off_by_kill_9_is_resent_in_seconds_and_posted_once(
    fresh_database: str, redis_env: dict[str, str], output_dir: Path
) -> None:
    Session = sessions(fresh_database)
    with Session.begin() as s:
        paged = _slack_user(s, "Paged")
        incident_id, token = _trigger(s, f.policy_for(s, [paged], delay_minutes=30))
    namespace = f"{redis_env['REDIS_NAMESPACE']}-{uuid.uuid4().hex[:6]}"
    with (
        AcceptThenHang() as slack,
        worker_stack(
            database_url=fresh_database,
            redis_url=redis_env["REDIS_URL"],
            namespace=namespace,
            log_dir=output_dir / "workers" / namespace,
            extra_env={
                "SLACK_API_URL": slack.api_url,
                "SLACK_BOT_TOKEN": "xoxb-resend",
                "SLAR_ESCALATION_MINUTE_S": "600",
            },
            sweep_s=600,  # nor can the sweeper's scan: it runs once, at start
        ) as stack,
    ):
        stack.kick(incident_id, token)
        assert slack.accepted.wait(30), "the page never reached Slack"
        with Session() as s:
            (delivery,) = s.scalars(select(Delivery).where(Delivery.incident_id == incident_id))
            assert delivery.status == "sending"
        stack.kill("workers")  # kill -9 while Slack's answer is on its way
        killed = time.monotonic()
        stack.start("workers")

        def settled() -> Delivery | None:
            with Session() as s:
                row = s.get(Delivery, delivery.id)
                return row if row is not None and row.status == "sent" else None

        sent = wait_for(settled, 60, "the re-send after kill -9")
        seconds = time.monotonic() - killed
    history = [m for messages in slack.history.values() for m in messages]
    report = {"resent_after_kill_s": round(seconds, 1), "posts": len(slack.posts()), "messages": len(history)}
    (output_dir / "fast_resend_report.json").write_text(json.dumps(report))
    print("fast re-send:", json.dumps(report))
    assert sent.attempts == 2 and sent.last_error == RECLAIMED
    # The re-send found the message the dead worker had posted (by its metadata): posted once.
    assert len(history) == 1 and len(slack.posts()) == 1
    assert sent.provider_message_id == f"D{paged.id}:{history[0]['ts']}"
